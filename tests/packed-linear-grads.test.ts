/**
 * linear's output gradient fused into the packed product's operand packing: the kernel that writes
 * s = g ⊙ z ⊘ (z + ε·sign z) straight into the texture against its float64 reference and against
 * `packIntoTexture` of the stored s (texel order, zero padding); `matmulPrepackedA` against
 * `matmul` and where it declines; the ε-rule's gradients and linear's own backward (g packed as it
 * is) against the unfused path, bit for bit.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { add, backward, mul, sum, tidy, Tensor, transpose } from '../autograd/index.js';
import { LedgerRecorder } from '../lrp/ledger.js';
import type { BackwardContext } from '../autograd/graph.js';
import { epsilonScaledWithColumnSums } from '../autograd/ops/elementwise.js';
import { linear, linearGrads } from '../autograd/ops/matmul.js';
import { linearGradsPacked } from '../autograd/ops/packedLinearGrads.js';
import { wrap } from '../autograd/ops/wrap.js';
import { elementwiseColumnsIntoTexture, elementwiseWithColumnSums, FUSED_ELEMENTWISE } from '../kernels/elementwise.js';
import { matmul, matmulPrepackedA, MATMUL_VARIANTS, planMatmul } from '../kernels/matmul.js';
import { packIntoTexture } from '../kernels/packTexture.js';
import { refColumnsIntoTexture } from '../kernels/reference/packTexture.js';
import { refTensor } from '../kernels/reference/tensor.js';
import { runtime } from '../kernels/runtime.js';
import { measure } from '../kernels/stats.js';
import type { ScratchTexture } from '../kernels/texturePool.js';
import { allocate, type GpuView } from '../kernels/view.js';
import { flatEntry, header } from '../kernels/wgsl/common.js';
import { epsilonRule } from '../lrp/rules/epsilon.js';

beforeAll(async () => {
  await gpu();
});

const random = rng(16);
const EPS = 0.05;

/** Every texel of a one-layer scratch texture, row by row, read by a small kernel (the texture cannot be copied out). */
async function readTexture(t: ScratchTexture): Promise<Float32Array> {
  const n = t.width * t.height;
  const out = allocate('test', [n * 4], 'f32');
  runtime().dispatch({
    key: 'test/readTexture',
    wgsl: () =>
      [
        header([
          { name: 'T', access: 'read', type: 'vec4<f32>', texture: true },
          { name: 'out', access: 'read_write', type: 'vec4<f32>' },
        ]),
        flatEntry('  if (i >= p[0] * p[1]) { return; }\n  out[i] = textureLoad(T, vec2<u32>(i % p[0], i / p[0]), 0);'),
      ].join('\n\n'),
    bindings: [{ textureView: t.view }, out],
    params: Uint32Array.from([t.width, t.height]),
    workgroups: Math.ceil(n / 64),
  });
  const values = await wrap({ buffer: out, shape: [n * 4], dtype: 'f32' }).toArray();
  return Float32Array.from(values);
}

const bits = (a: ArrayLike<number>): Uint32Array => new Uint32Array(Float32Array.from(a).buffer);

describe('elementwiseColumnsIntoTexture with input dots', () => {
  // 192 rows: plain floats and a buffer copy (three 64-row blocks); 150: texel stores, a partial block.
  for (const [rows, cols, copy] of [[192, 40, true], [150, 33, false], [192, 40, false]] as const) {
    it(`[${rows}, ${cols}]${copy ? '' : ', texel stores'}: Σ_rows g ⊙ z per column at the given slots, the texels and sums unchanged`, async () => {
      const gData = randomArray(rows * cols, random);
      const zData = randomArray(rows * cols, random);
      const [g, z] = [Tensor.fromArray(gData, [rows, cols]), Tensor.fromArray(zData, [rows, cols])];
      const plain = elementwiseColumnsIntoTexture('epsilonScale', [g, z], [EPS], { copy });
      const dots = Tensor.fromArray(new Float32Array(cols + 7).fill(-1), [cols + 7]);
      const dotted = elementwiseColumnsIntoTexture('epsilonScale', [g, z], [EPS], { copy, inputDots: { buffer: dots.buffer, offset: 5 } });
      expect(bits(await readTexture(dotted.texture))).toEqual(bits(await readTexture(plain.texture)));
      const [s0, s1] = [wrap(plain.sums), wrap(dotted.sums)];
      expect(bits(await s1.toArray())).toEqual(bits(await s0.toArray()));
      const got = await dots.toArray();
      const expected = Array.from({ length: cols }, (_, j) => {
        let t = 0;
        for (let r = 0; r < rows; r++) t += gData[r * cols + j]! * zData[r * cols + j]!;
        return t;
      });
      expect(Array.from(got.subarray(0, 5))).toEqual([-1, -1, -1, -1, -1]);
      expectClose(got.subarray(5, 5 + cols), expected, { rtol: 1e-5, atol: 1e-5 }, 'input dots');
      expect(Array.from(got.subarray(5 + cols))).toEqual([-1, -1]);
      for (const t of [plain.texture, dotted.texture]) runtime().textures.release(t);
      for (const t of [g, z, dots, s0, s1]) t.dispose();
    });
  }
});

describe('elementwiseColumnsIntoTexture', () => {
  // Rows not a multiple of 4 (zero padding in the last texel), columns not a multiple of 4 or 16.
  for (const [rows, cols] of [[37, 300], [1, 5], [74, 301], [130, 771]] as const) {
    it(`epsilonScale [${rows}, ${cols}] (z transposed): texels and column sums as the reference, and as packIntoTexture of the stored values bit for bit`, async () => {
      const gData = randomArray(rows * cols, random);
      const zData = randomArray(rows * cols, random);
      zData[cols > 3 ? 3 : 0] = 0; // the stabilised denominator at 0
      const g = Tensor.fromArray(gData, [rows, cols]);
      const zBase = Tensor.fromArray(Array.from({ length: rows * cols }, (_, i) => zData[(i % rows) * cols + Math.floor(i / rows)]!), [cols, rows]);
      const z = transpose(zBase); // [rows, cols], column-major: strided reads
      const { texture, sums } = elementwiseColumnsIntoTexture('epsilonScale', [g, z], [EPS]);
      expect([texture.width, texture.height, texture.layers]).toEqual([Math.ceil(rows / 4), cols, 1]);
      const texels = await readTexture(texture);
      const s = wrap(sums);
      const sumValues = await s.toArray();
      const ref = refColumnsIntoTexture(FUSED_ELEMENTWISE.epsilonScale.ref, [refTensor([rows, cols], gData), refTensor([rows, cols], zData)], [EPS]);
      expectClose(texels, ref.texels, { rtol: 1e-5, atol: 1e-6 }, 'texels');
      const padded = Array.from(texels).filter((_, i) => Math.floor(i / 4) % texture.width === texture.width - 1 && (texture.width - 1) * 4 + (i % 4) >= rows);
      expect(padded.length).toBe(cols * (4 * texture.width - rows));
      expect(padded.every((v) => Object.is(v, 0))).toBe(true);
      expectClose(sumValues, ref.sums, { rtol: 1e-4, atol: 1e-5 }, 'column sums');
      // The unfused kernels: values into a buffer, then packIntoTexture of their transpose.
      const unfused = elementwiseWithColumnSums('epsilonScale', [g, z], [EPS]);
      const values = wrap(unfused.values);
      const stored = transpose(values);
      const packed = packIntoTexture(stored as GpuView);
      expect(bits(texels)).toEqual(bits(await readTexture(packed)));
      const unfusedSums = wrap(unfused.sums);
      expect(bits(sumValues)).toEqual(bits(await unfusedSums.toArray()));
      runtime().textures.release(texture);
      runtime().textures.release(packed);
      for (const t of [g, zBase, z, s, values, stored, unfusedSums]) t.dispose();
    });
  }

  // Rows a multiple of 64: the kernel writes the texture's bytes into a buffer and a copy fills it.
  for (const [rows, cols] of [[64, 5], [128, 300], [192, 771]] as const) {
    it(`epsilonScale [${rows}, ${cols}] by a buffer copy: the texels and sums of the kernel's own texel stores, bit for bit`, async () => {
      const g = Tensor.fromArray(randomArray(rows * cols, random), [rows, cols]);
      const zData = randomArray(rows * cols, random);
      zData[1] = 0;
      const z = Tensor.fromArray(zData, [rows, cols]);
      const keys: string[] = [];
      const stop = runtime().onDispatch((launch) => keys.push(launch.key));
      const copied = elementwiseColumnsIntoTexture('epsilonScale', [g, z], [EPS]);
      const stored = elementwiseColumnsIntoTexture('epsilonScale', [g, z], [EPS], { copy: false });
      stop();
      expect(keys.map((k) => /"sink":"(\w+)"/.exec(k)?.[1])).toEqual(['columns', 'texture']);
      expect(bits(await readTexture(copied.texture))).toEqual(bits(await readTexture(stored.texture)));
      const [a, b] = [wrap(copied.sums), wrap(stored.sums)];
      expect(bits(await a.toArray())).toEqual(bits(await b.toArray()));
      const ref = refColumnsIntoTexture(FUSED_ELEMENTWISE.epsilonScale.ref, [refTensor([rows, cols], await g.toArray()), refTensor([rows, cols], zData)], [EPS]);
      expectClose(await readTexture(copied.texture), ref.texels, { rtol: 1e-5, atol: 1e-6 }, 'texels');
      for (const t of [copied.texture, stored.texture]) runtime().textures.release(t);
      for (const t of [g, z, a, b]) t.dispose();
    });
  }

  it('rejects inputs of different shapes and empty ones', () => {
    const a = Tensor.fromArray(new Float32Array(6), [2, 3]);
    const b = Tensor.fromArray(new Float32Array(6), [3, 2]);
    const e = Tensor.fromArray([], [0, 3]);
    expect(() => elementwiseColumnsIntoTexture('epsilonScale', [a, b], [EPS])).toThrow(/one 2-D shape/);
    expect(() => elementwiseColumnsIntoTexture('epsilonScale', [e, e], [EPS])).toThrow(/non-empty/);
    for (const t of [a, b, e]) t.dispose();
  });
});

describe('matmulPrepackedA', () => {
  const [rows, K, N] = [74, 301, 200];
  const aData = randomArray(rows * K, random);
  const prepacked = (a: Tensor, calls: { n: number }): Parameters<typeof matmulPrepackedA>[0] => ({
    rows,
    cols: K,
    pack: () => {
      calls.n++;
      return packIntoTexture(transpose(a) as GpuView);
    },
  });

  it('equals matmul of the stored A bit for bit where the plan packs A, without packing it again', async () => {
    const a = Tensor.fromArray(aData, [rows, K]);
    const b = Tensor.fromArray(randomArray(K * N, random), [K, N]);
    expect(planMatmul(a, b).layoutA).toBe('packed'); // this shape packs A on this adapter
    const calls = { n: 0 };
    const { value, kernels } = await measure(() => matmulPrepackedA(prepacked(a, calls), b), { byKernel: true });
    expect(calls.n).toBe(1);
    expect(kernels.filter((k) => k.key.startsWith('packTexture')).map((k) => k.dispatches)).toEqual([1]); // the caller's pack only
    const got = wrap(value!);
    const want = wrap(matmul(a, b));
    expect(bits(await got.toArray())).toEqual(bits(await want.toArray()));
    for (const t of [a, b, got, want]) t.dispose();
  });

  it('declines (null, pack not called) where the plan would not pack A', () => {
    const a = Tensor.fromArray(aData, [rows, K]);
    const b = Tensor.fromArray(randomArray(K * N, random), [K, N]);
    const b3 = Tensor.fromArray(randomArray(2 * K * N, random), [2, K, N]);
    const calls = { n: 0 };
    expect(matmulPrepackedA(prepacked(a, calls), b, { variant: MATMUL_VARIANTS.software })).toBeNull(); // the buffer path
    expect(matmulPrepackedA(prepacked(a, calls), b, { packed: 'b' })).toBeNull(); // W packed instead
    expect(matmulPrepackedA(prepacked(a, calls), b, { packAlong: 'k' })).toBeNull(); // texels along K
    expect(matmulPrepackedA(prepacked(a, calls), b3)).toBeNull(); // batch dims
    expect(matmulPrepackedA({ ...prepacked(a, calls), rows: 0 }, b)).toBeNull(); // empty
    expect(calls.n).toBe(0);
    for (const t of [a, b, b3]) t.dispose();
  });
});

describe('the ε-rule on linear, fused into the packing', () => {
  /** The rule's gradients and the unfused path's (epsilonScaledWithColumnSums, then linearGrads) for one linear. */
  async function bothPaths(xShape: number[], out: number, options: { bias?: boolean; weightNeedsGrad?: boolean; bf16?: boolean } = {}) {
    const inF = xShape[xShape.length - 1]!;
    const x = Tensor.fromArray(randomArray(xShape.reduce((p, d) => p * d, 1), random), xShape);
    const wData = randomArray(out * inF, random, -0.2, 0.2);
    const w = options.bf16 ? Tensor.fromHalfBits(Uint16Array.from(bits(wData), (u) => u >>> 16), [out, inF], 'bf16') : Tensor.fromArray(wData, [out, inF]);
    const b = options.bias === false ? null : Tensor.fromArray(randomArray(out, random, -0.3, 0.3), [out]);
    const z = linear(x, w, b);
    const g = Tensor.fromArray(randomArray(z.size, random), z.shape);
    const inputs = b ? [x, w, b] : [x, w];
    const needsGrad = b ? [true, options.weightNeedsGrad ?? false, true] : [true, options.weightNeedsGrad ?? false];
    const ctx: BackwardContext = { op: 'linear', inputs, output: z, attrs: undefined, needsGrad, defaultBackward: (s) => linearGrads(ctx, s) };
    const { value: fused, stats } = await measure(() => epsilonRule(EPS).backward(ctx, g));
    const { scaled, columnSums } = epsilonScaledWithColumnSums(g, z, EPS);
    const unfused = linearGrads(ctx, scaled, b ? columnSums : null);
    if (!b) columnSums.dispose();
    const read = (ts: (Tensor | null)[]) => Promise.all(ts.map((t) => (t ? t.toArray().then(bits) : null)));
    const result = { fused: await read(fused), unfused: await read(unfused), dispatches: stats.dispatches };
    for (const t of [x, w, b, z, g, scaled, ...fused, ...unfused]) t?.dispose();
    return result;
  }

  it('batch dims [2, 37, 100] · W[300, 100]ᵀ + b: gx and the bias gradient equal the unfused path bit for bit, in 2 dispatches instead of 3', async () => {
    const r = await bothPaths([2, 37, 100], 300);
    expect(r.fused).toEqual(r.unfused);
    expect(r.fused[1]).toBeNull();
    expect(r.dispatches).toBe(2);
  });

  it('no bias, bf16 weights, rows not a multiple of 4 ([70, 90] · W[130, 90]ᵀ): equal bit for bit', async () => {
    const r = await bothPaths([70, 90], 130, { bias: false, bf16: true });
    expect(r.fused).toEqual(r.unfused);
    expect(r.fused).toHaveLength(2);
    expect(r.dispatches).toBe(2); // s into the texture, the product (which reads the bf16 W as stored)
  });

  it('falls back where the fusion does not apply: W needs a gradient, or more rows than the result has columns (W is packed, not s)', async () => {
    const withWeight = await bothPaths([2, 37, 100], 300, { weightNeedsGrad: true });
    expect(withWeight.fused).toEqual(withWeight.unfused);
    expect(withWeight.fused[1]).not.toBeNull();
    expect(withWeight.dispatches).toBe(5); // s and its sums, pack and product for gx, the product for gW (which packs its B)
    const wideRows = await bothPaths([2, 64, 100], 300); // rows ≥ columns of the result: W is packed, not s
    expect(wideRows.fused).toEqual(wideRows.unfused);
    expect(wideRows.dispatches).toBe(3);
  });
});

describe("linear's own backward, fused into the packing", () => {
  it('[2, 37, 100] · W[300, 100]ᵀ + b: g packed as it is, gx and the bias gradient equal the unfused path bit for bit, in 2 dispatches instead of 3; backward() takes this path', async () => {
    const [xData, bData] = [randomArray(2 * 37 * 100, random), randomArray(300, random)];
    const x = Tensor.fromArray(xData, [2, 37, 100]);
    const w = Tensor.fromArray(randomArray(300 * 100, random, -0.2, 0.2), [300, 100]);
    const b = Tensor.fromArray(bData, [300]);
    const z = linear(x, w, b);
    const gData = randomArray(z.size, random);
    const g = Tensor.fromArray(gData, z.shape);
    const ctx: BackwardContext = { op: 'linear', inputs: [x, w, b], output: z, attrs: undefined, needsGrad: [true, false, true], defaultBackward: (s) => linearGrads(ctx, s) };
    const { value: fused, stats } = await measure(() => linearGradsPacked(ctx, { op: 'copy', inputs: [g] })!);
    const unfused = linearGrads(ctx, g);
    expect(stats.dispatches).toBe(2);
    const read = (ts: (Tensor | null)[]) => Promise.all(ts.map((t) => (t ? t.toArray().then(bits) : null)));
    const fusedBits = await read(fused);
    expect(fusedBits).toEqual(await read(unfused));
    // Through the engine: x and b leaves, W frozen (as in an explanation).
    const [xl, bl] = [Tensor.fromArray(xData, [2, 37, 100]).setRequiresGrad(), Tensor.fromArray(bData, [300]).setRequiresGrad()];
    const y = linear(xl, w, bl);
    const { kernels } = await measure(() => backward(y, { seed: g }), { byKernel: true });
    expect(kernels.map((k) => k.key.split('/')[0]).sort()).toEqual(['elementwise-colsum', 'matmul']); // no pack, no sum
    expect([bits(await xl.grad!.toArray()), bits(await bl.grad!.toArray())]).toEqual([fusedBits[0], fusedBits[2]]);
    // And against float64: gx = g·W, gb = Σ_rows g.
    const wData = await w.toArray();
    const gb = Array.from({ length: 300 }, (_, j) => Array.from({ length: 74 }, (_, r) => gData[r * 300 + j]!).reduce((a, v) => a + v, 0));
    const gx = Array.from({ length: 74 * 100 }, (_, k) => Array.from({ length: 300 }, (_, j) => gData[Math.floor(k / 100) * 300 + j]! * wData[j * 100 + (k % 100)]!).reduce((a, v) => a + v, 0));
    expectClose(await bl.grad!.toArray(), gb, { rtol: 1e-4, atol: 1e-5 }, 'gb');
    expectClose(await xl.grad!.toArray(), gx, { rtol: 1e-4, atol: 1e-5 }, 'gx');
    for (const t of [x, w, b, z, g, xl, bl, y, xl.grad, bl.grad, ...fused, ...unfused]) t?.dispose();
  });

  // [2, 37, 100] into 300, 200, 120 features: s packed by the ε kernel (linearGradsPacked); [1, 128, 96]
  // into 16 each: the weight packed, the unfused product (linearGrads). Both fold.
  for (const { rows, inF, outs, fused } of [
    { rows: [2, 37], inF: 100, outs: [300, 200, 120], fused: true },
    { rows: [1, 128], inF: 96, outs: [16, 16, 16], fused: false },
  ])
  it(`x [${rows}, ${inF}] read by three linear layers (q, k, v of one input), ${fused ? 's packed by its kernel' : 'the unfused product'}: each product adds the gradient so far in its store, no add in the sweep`, async () => {
    const n = rows[0]! * rows[1]!;
    const xData = randomArray(n * inF, random);
    const ws = outs.map((o) => Tensor.fromArray(randomArray(o * inF, random, -0.2, 0.2), [o, inF]));
    const seeds = outs.map((o) => randomArray(n * o, random));
    const cs = seeds.map((d, k) => Tensor.fromArray(d, [...rows, outs[k]!]));
    const run = async () => {
      const x = Tensor.fromArray(xData, [...rows, inF]).setRequiresGrad();
      // The three products recorded in turn; their sum is the loss (a pure sum: nothing measured there).
      const loss = tidy(() => ws.map((w, k) => sum(mul(linear(x, w), cs[k]!))).reduce((a, b) => add(a, b)));
      const priors: number[] = [];
      const ledger = new LedgerRecorder(new Set(), new Map());
      const { kernels } = await measure(
        () =>
          backward(loss, {
            onNode: (visit) => {
              ledger.onNode(visit);
              if (visit.node.op === 'linear') priors.push(visit.foldedPriors.filter(Boolean).length);
            },
          }),
        { byKernel: true },
      );
      const losses = await ledger.read();
      const grad = await x.grad!.toArray();
      for (const t of [x, loss, x.grad]) t?.dispose();
      const count = (prefix: string): number => kernels.filter((k) => k.key.startsWith(prefix)).reduce((n, k) => n + k.dispatches, 0);
      return { count, priors, losses, grad };
    };
    const byKernel = fused;
    const result = await run();
    // The first product's gradient goes to the sweep; the next two fold it in, in their store.
    expect(result.priors).toEqual([0, 1, 1]);
    expect([result.count('elementwise/add'), result.count('matmul/'), result.count('elementwise-colsum/')]).toEqual([0, 3, byKernel ? 3 : 0]);
    // Against float64: gx = Σ_k c_k · W_k.
    const wData = await Promise.all(ws.map((w) => w.toArray()));
    const gx = Array.from({ length: n * inF }, (_, i) => {
      const [r, c] = [Math.floor(i / inF), i % inF];
      let t = 0;
      outs.forEach((o, k) => {
        for (let j = 0; j < o; j++) t += seeds[k]![r * o + j]! * wData[k]![j * inF + c]!;
      });
      return t;
    });
    expectClose(result.grad, gx, { rtol: 1e-4, atol: 1e-5 }, 'gx');
    // Linear layers without a bias under their own gradient conserve: every layer's booked loss is 0 up to rounding.
    expect(Math.abs(result.losses.stabilizers)).toBeLessThan(1e-3);
    for (const t of [...ws, ...cs]) t.dispose();
  });
});
