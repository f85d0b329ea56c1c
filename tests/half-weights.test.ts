/**
 * 16-bit weight storage: F16 and BF16 matrices stay 16-bit on the GPU and every kernel that reads
 * them widens each value exactly, so a model computes the same logits and relevance from 16-bit
 * storage as from f32 storage (`dtype: 'f32'`), with half the GPU bytes for its matrices. The
 * loader streams tensors in pieces: a table larger than a piece, with an odd element count, comes
 * back bit-exact in both storages.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { bf16Value, bitsOf, f16Value } from './helpers/bits.js';
import { runCli } from './helpers/cli.js';
import { modelDir } from './helpers/fixtures.js';
import { Tensor } from '../autograd/tensor.js';
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import { embedding, linear, relu, sum } from '../autograd/index.js';
import type { GpuRuntime } from '../kernels/runtime.js';
import { loadModel } from '../nn/folder.js';
import { planRowBlocks } from '../nn/upload.js';
import { assembleSafetensors } from '../nn/safetensorsWriter.js';
import type { TransformerModel } from '../nn/models/types.js';
import { explain } from '../lrp/explain.js';
import { composite } from '../lrp/composites.js';
import { gammaRule } from '../lrp/rules/gamma.js';

let rt: GpuRuntime;
beforeAll(async () => {
  rt = await gpu();
});


// Zeros of both signs, the smallest and largest subnormals, the smallest normal, the largest
// finite value, values around 1, and an odd count (the last word holds one value).
const F16_BITS = [0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x3c00, 0x3c01, 0xbc00, 0x3555, 0x1234];
const BF16_BITS = [0x0000, 0x8000, 0x0001, 0x807f, 0x0080, 0x7f7f, 0xff7f, 0x3f80, 0x3f81, 0xbf80, 0x3eab, 0x1234, 0x4049];

describe('kernels widen 16-bit storage exactly', () => {
  for (const [dtype, bits, value] of [['f16', F16_BITS, f16Value], ['bf16', BF16_BITS, bf16Value]] as const) {
    it(`${dtype}: a read-back (widening copy) gives every value bit-exactly, subnormals and signed zeros included`, async () => {
      const t = Tensor.fromHalfBits(Uint16Array.from(bits), [bits.length], dtype);
      expect(t.dtype).toBe(dtype);
      expect(bitsOf(await t.toArray())).toEqual(bitsOf(bits.map(value)));
      t.dispose();
    });

    it(`${dtype}: embedding lookup, elementwise ops and linear read it as the f32 values it holds`, async () => {
      // A [13, 2] table would be odd-sized per row pair; use [6, 2] rows of the first 12 patterns.
      const rows = Uint16Array.from(bits.slice(0, 12));
      const wanted = Array.from(rows, value);
      const table = Tensor.fromHalfBits(rows, [6, 2], dtype);
      const table32 = Tensor.fromArray(wanted, [6, 2]);
      const ids = Tensor.fromArray([5, 0, 3, 3], [4], 'i32');
      const looked = embedding(table, ids);
      expect(bitsOf(await looked.toArray())).toEqual(bitsOf([5, 0, 3, 3].flatMap((id) => wanted.slice(2 * id, 2 * id + 2))));
      expect(bitsOf(await relu(table).toArray())).toEqual(bitsOf(wanted.map((v) => (v > 0 ? v : 0) || 0)));
      // x · Wᵀ with W [6, 2] in 16 bits against the same product with W held as f32: identical.
      const x = Tensor.fromArray([0.5, -2, 3, 0.25], [2, 2]);
      expect(bitsOf(await linear(x, table).toArray())).toEqual(bitsOf(await linear(x, table32).toArray()));
      for (const t of [table, table32, ids, looked, x]) t.dispose();
    });
  }

  it('16-bit tensors cannot require gradients, and fromArray refuses to make one from numbers', () => {
    const t = Tensor.fromHalfBits(Uint16Array.from([0x3c00, 0x4000]), [2], 'f16');
    expect(() => t.setRequiresGrad()).toThrow(/only f32 tensors can require gradients/);
    expect(() => Tensor.fromArray([1, 2], [2], 'bf16')).toThrow(/fromHalfBits/);
    t.dispose();
  });

  it('a kernel that does not read 16-bit storage refuses it by name instead of compiling garbage', () => {
    const t = Tensor.fromHalfBits(Uint16Array.from([0x3c00, 0x4000]), [2], 'bf16');
    expect(() => sum(t)).toThrow(/does not read bf16 storage/);
    t.dispose();
  });
});

/** Parameters of a model with their GPU dtypes and buffer bytes (checked to be exact: no size-class rounding). */
function storage(model: TransformerModel): { dtypes: Map<string, string>; bytes: number } {
  const dtypes = new Map<string, string>();
  let bytes = 0;
  for (const p of new Set(model.parameters())) {
    const shards = p.rowShards();
    dtypes.set(p.name, shards[0]!.dtype);
    for (const s of shards) {
      const exact = Math.max(16, Math.ceil((s.size * (s.dtype === 'f32' ? 4 : 2)) / 4) * 4);
      expect(s.buffer.size, p.name).toBe(exact);
      bytes += s.buffer.size;
    }
  }
  return { dtypes, bytes };
}

describe('F16 and BF16 checkpoints: 16-bit storage computes what f32 storage computes', () => {
  const cases = [
    ['llama-bf16', 'bf16', [3, 17, 42, 5, 88, 11]],
    ['gpt2-f16', 'f16', [3, 17, 42, 5, 88, 11]],
  ] as const;
  for (const [name, half, ids] of cases) {
    it(`${name}: matrices held as ${half} (half the bytes), the same logits, PA-LRP and γ-rule relevance`, async () => {
      const before = rt.memory().liveBytes;
      const compact = await loadModel(modelDir(name));
      const compactBytes = rt.memory().liveBytes - before;
      const wide = await loadModel(modelDir(name), { dtype: 'f32' });
      const wideBytes = rt.memory().liveBytes - before - compactBytes;
      try {
        const c = storage(compact);
        const w = storage(wide);
        const matrices = [...c.dtypes].filter(([n]) => compact.parameters().find((p) => p.name === n)!.spec.halfStorage);
        expect(matrices.length).toBeGreaterThan(4);
        for (const [n, d] of c.dtypes) expect(d, n).toBe(matrices.some(([m]) => m === n) ? half : 'f32');
        expect([...w.dtypes.values()].every((d) => d === 'f32')).toBe(true);
        // The pool's own count agrees with the buffers; matrices dominate, so the total is ≈ half.
        expect(compactBytes).toBe(c.bytes);
        expect(wideBytes).toBe(w.bytes);
        expect(compactBytes / wideBytes).toBeGreaterThan(0.5);
        expect(compactBytes / wideBytes).toBeLessThan(0.52);

        const input = { ids: [[...ids]] };
        const logits = async (m: TransformerModel): Promise<number[]> => {
          const t = noGrad(() => tidy(() => m.forward(input)));
          const v = bitsOf(await t.toArray());
          t.dispose();
          return v;
        };
        expect(await logits(compact)).toEqual(await logits(wide));

        const gamma = composite('pa-lrp', [{ match: 'layers.*', roles: { linear: gammaRule(0.25) } }]);
        for (const method of ['pa-lrp', gamma] as const) {
          const [a, b] = [await explain(compact, input, { method }), await explain(wide, input, { method })];
          expect(a.logit).toBe(b.logit);
          expect(bitsOf(a.tokens.map((t) => t.token))).toEqual(bitsOf(b.tokens.map((t) => t.token)));
          expect(bitsOf(a.tokens.map((t) => t.position))).toEqual(bitsOf(b.tokens.map((t) => t.position)));
          expect(a.conservation.input).toBe(b.conservation.input);
        }
      } finally {
        compact.dispose();
        wide.dispose();
      }
    });
  }

  it('loadModel refuses an unknown dtype before touching the checkpoint', async () => {
    await expect(loadModel(modelDir('llama-bf16'), { dtype: 'f16' as never })).rejects.toThrow(/options\.dtype must be auto or f32, got "f16"/);
  });
});

describe('streaming load: a tensor larger than one piece, odd-sized, comes back bit-exact', () => {
  let dir: string;
  // GPT-2 with n_embd 33 (3 heads of 11) and an odd vocabulary: wte is 64001 × 33 = 2,112,033
  // values, more than one 4 MiB piece in every dtype, with an odd count (a padded last word).
  const vocab = 64001;
  const hidden = 33;
  const positions = 8;
  const wteBits = new Uint16Array(vocab * hidden);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'half-weights-'));
    // Deterministic finite patterns: every exponent but the all-ones one, both signs.
    for (let i = 0; i < wteBits.length; i++) wteBits[i] = ((i * 2654435761) >>> 7) & 0x7bff | ((i & 1) << 15);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: vocab, n_embd: hidden, n_layer: 1, n_head: 3, n_positions: positions, layer_norm_epsilon: 1e-5 }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes the checkpoint with wte in `stored` (F16 bits or their f32 values), the rest small F32. */
  function write(stored: 'F16' | 'F32'): void {
    const tensors: [string, string, number[], Uint8Array][] = [];
    const f32 = (shape: number[], fill: (i: number) => number): Uint8Array => new Uint8Array(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => fill(i)).buffer);
    const small = (i: number): number => Math.sin(i) * 0.02;
    tensors.push(['wte.weight', stored, [vocab, hidden], stored === 'F16' ? new Uint8Array(wteBits.buffer) : new Uint8Array(Float32Array.from(wteBits, f16Value).buffer)]);
    tensors.push(['wpe.weight', 'F32', [positions, hidden], f32([positions, hidden], small)]);
    for (const ln of ['h.0.ln_1', 'h.0.ln_2', 'ln_f']) {
      tensors.push([`${ln}.weight`, 'F32', [hidden], f32([hidden], () => 1)]);
      tensors.push([`${ln}.bias`, 'F32', [hidden], f32([hidden], () => 0)]);
    }
    for (const [n, out] of [['attn.c_attn', 3 * hidden], ['attn.c_proj', hidden], ['mlp.c_fc', 4 * hidden], ['mlp.c_proj', hidden]] as const) {
      const inF = n === 'mlp.c_proj' ? 4 * hidden : hidden;
      tensors.push([`h.0.${n}.weight`, 'F32', [inF, out], f32([inF, out], small)]);
      tensors.push([`h.0.${n}.bias`, 'F32', [out], f32([out], () => 0)]);
    }
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const [name, dtype, shape, data] of tensors) {
      header[name] = { dtype, shape, data_offsets: [offset, offset + data.byteLength] };
      offset += data.byteLength;
    }
    writeFileSync(join(dir, 'model.safetensors'), assembleSafetensors(header, tensors.map((t) => t[3])));
  }

  for (const [stored, dtype, held] of [['F16', 'auto', 'f16'], ['F16', 'f32', 'f32']] as const) {
    it(`${stored} checkpoint, dtype ${dtype}: the table is held as ${held} and reads back bit-exact`, async () => {
      write(stored);
      const model = await loadModel(dir, { dtype });
      try {
        const wte = model.parameters().find((p) => p.name === 'transformer.wte.weight')!;
        expect(wte.rowShards().map((t) => t.dtype)).toEqual([held]);
        const got = new Uint32Array((await wte.rowShards()[0]!.toArray()).buffer);
        const want = new Uint32Array(Float32Array.from(wteBits, f16Value).buffer);
        expect(got.length).toBe(want.length);
        // (A loop: toEqual on two million elements takes seconds.)
        let firstDifference = -1;
        for (let i = 0; i < want.length && firstDifference < 0; i++) if (got[i] !== want[i]) firstDifference = i;
        expect(firstDifference).toBe(-1);
      } finally {
        model.dispose();
      }
    });
  }
});

describe('row blocks', () => {
  it('a matrix is split where its f32 form exceeds one binding, in 16-bit storage too (a product widens a block)', () => {
    const MiB128 = 128 * 2 ** 20;
    // Llama-3.2-1B's tied embedding: 16384 rows of 2048 f32 values are exactly 128 MiB.
    const blocks = planRowBlocks([128256, 2048], MiB128);
    expect(blocks.map(([, s]) => s[0])).toEqual([16384, 16384, 16384, 16384, 16384, 16384, 16384, 13568]);
    expect(blocks.map(([first]) => first)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((b) => b * 16384 * 2048));
    // A matrix whose f32 form fits (even by one row) stays whole; a vector is never split.
    expect(planRowBlocks([16384, 2048], MiB128)).toEqual([[0, [16384, 2048]]]);
    expect(planRowBlocks([16385, 2048], MiB128).length).toBe(2);
    expect(planRowBlocks([2 ** 26], MiB128)).toEqual([[0, [2 ** 26]]]);
  });
});

describe('--dtype on the command line', () => {
  it('forward --dtype f32 gives the logits of the default (16-bit) storage', async () => {
    const dir = modelDir('llama-bf16');
    const auto = await runCli('forward', '--model', dir, '--ids', '1,2,3');
    const f32 = await runCli('forward', '--model', dir, '--ids', '1,2,3', '--dtype', 'f32');
    expect([auto.code, f32.code]).toEqual([0, 0]);
    expect(JSON.parse(f32.stdout).logits).toEqual(JSON.parse(auto.stdout).logits);
  });

  it('explain --dtype f32 works, and a bad value exits 2 naming the choices', async () => {
    const dir = modelDir('gpt2-f16');
    const ok = await runCli('explain', '--model', dir, '--ids', '1,2,3', '--method', 'pa-lrp', '--dtype', 'f32');
    expect(ok.code).toBe(0);
    for (const command of [['forward'], ['explain', '--method', 'pa-lrp']]) {
      const bad = await runCli(...command, '--model', dir, '--ids', '1,2', '--dtype', 'f16');
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--dtype must be auto or f32, got "f16"/);
      expect(bad.stdout).toBe('');
    }
    const evalBad = await runCli('eval', '--model', dir, '--dtype', 'bf16');
    expect(evalBad.code).toBe(2);
    expect(evalBad.stderr).toMatch(/--dtype must be auto or f32/);
  });
});
