/**
 * Rotary position embedding (HF rotate-half layout): the fused kernel against the float64
 * reference, gradients for x, cos AND sin, partial rotary, broadcasting, and the HF tables.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { Tensor, permute, reshape, rotary, rotaryTables, rotateHalf } from '../autograd/index.js';
import { runtime } from '../kernels/runtime.js';
import { gradcheck } from '../autograd/gradcheck.js';
import { refPermute, refTensor } from '../kernels/reference/tensor.js';
import { refRotary, refRotaryTables, refRotateHalf } from '../kernels/reference/rotary.js';
import { numel } from '../kernels/shape.js';
import { rotaryTableGrads } from '../kernels/rotary.js';
import { wrap } from '../autograd/ops/wrap.js';
import { backward } from '../autograd/backward.js';

beforeAll(async () => {
  await gpu();
});

interface FixtureCase {
  name: string;
  inputs: Record<string, { shape: number[]; data: number[] }>;
  output: { data: number[] };
  w: { shape: number[]; data: number[] };
  grads: Record<string, { data: number[] }>;
}

describe('rotary forward', () => {
  it('matches the reference: heads, odd T, partial width, broadcast tables, large', async () => {
    const random = rng(11);
    const cases: { x: number[]; table: number[] }[] = [
      { x: [2, 3, 5, 8], table: [5, 8] },
      { x: [7, 6], table: [7, 6] },
      { x: [2, 4, 10], table: [4, 6] }, // partial rotary: 4 of 10 features pass through
      { x: [2, 3, 5, 8], table: [2, 1, 5, 8] }, // per-batch tables (HF's position_ids per row)
      { x: [1, 12, 129, 64], table: [129, 64] },
    ];
    for (const c of cases) {
      const [x, cos, sin] = [numel(c.x), numel(c.table), numel(c.table)].map((n) => randomArray(n, random));
      const out = rotary(Tensor.fromArray(x!, c.x), Tensor.fromArray(cos!, c.table), Tensor.fromArray(sin!, c.table));
      const ref = refRotary(refTensor(c.x, x!), refTensor(c.table, cos!), refTensor(c.table, sin!));
      expectClose(await out.toArray(), ref.data, { rtol: 1e-6, atol: 1e-6 }, `x ${c.x} table ${c.table}`);
    }
  });

  it('reads a strided x ([B, T, H, D] viewed as [B, H, T, D]) without a copy', async () => {
    const random = rng(12);
    const [B, T, H, D] = [2, 5, 3, 6];
    const xData = randomArray(B * T * H * D, random);
    const { cos, sin } = rotaryTables(T, D);
    const x = permute(Tensor.fromArray(xData, [B, T, H, D]), [0, 2, 1, 3]);
    const tables = refRotaryTables(Array.from({ length: T }, (_, t) => t), D);
    const ref = refRotary(refPermute(refTensor([B, T, H, D], xData), [0, 2, 1, 3]), tables.cos, tables.sin);
    expectClose(await rotary(x, cos, sin).toArray(), ref.data, { rtol: 1e-5, atol: 1e-6 }, 'strided');
  });

  it('with HF tables is a rotation of each (i, i + D/2) pair: norms are kept', async () => {
    const { cos, sin } = rotaryTables([3, 17, 400], 8);
    const x = randomArray(3 * 8, rng(13));
    const y = await rotary(Tensor.fromArray(x, [3, 8]), cos, sin).toArray();
    for (let t = 0; t < 3; t++) {
      for (let i = 0; i < 4; i++) {
        const a = Math.hypot(x[t * 8 + i]!, x[t * 8 + i + 4]!);
        const b = Math.hypot(y[t * 8 + i]!, y[t * 8 + i + 4]!);
        expect(Math.abs(a - b)).toBeLessThan(1e-6);
      }
    }
  });

  it('matches the PyTorch fixture, forward and all three gradients', async () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/ops.json', import.meta.url), 'utf8')) as { ops: FixtureCase[] };
    const c = fixture.ops.find((o) => o.name === 'rotary')!;
    const [q, cos, sin] = ['q', 'cos', 'sin'].map((k) => Tensor.fromArray(c.inputs[k]!.data, c.inputs[k]!.shape).setRequiresGrad());
    const out = rotary(q!, cos!, sin!);
    expectClose(await out.toArray(), c.output.data, { rtol: 1e-5, atol: 1e-6 }, 'forward');
    backward(out, { seed: Tensor.fromArray(c.w.data, c.w.shape) });
    expectClose(await q!.grad!.toArray(), c.grads.q!.data, { rtol: 1e-5, atol: 1e-6 }, 'grad q');
    expectClose(await cos!.grad!.toArray(), c.grads.cos!.data, { rtol: 1e-5, atol: 1e-6 }, 'grad cos');
    expectClose(await sin!.grad!.toArray(), c.grads.sin!.data, { rtol: 1e-5, atol: 1e-6 }, 'grad sin');
  });

  it('names the shapes when they do not fit', () => {
    const x = Tensor.fromArray(new Float32Array(24), [2, 3, 4]);
    const t = (shape: number[]): Tensor => Tensor.fromArray(new Float32Array(numel(shape)), shape);
    expect(() => rotary(x, t([3, 3]), t([3, 3]))).toThrow('rotary: the rotary width 3 (last dim of cos) must be even and ≤ x\'s last dim 4 (x [2, 3, 4], cos [3, 3], sin [3, 3])');
    expect(() => rotary(x, t([3, 6]), t([3, 6]))).toThrow('rotary: the rotary width 6');
    expect(() => rotary(x, t([3, 4]), t([2, 4]))).toThrow('rotary: cos and sin must have the same shape (x [2, 3, 4], cos [3, 4], sin [2, 4])');
    expect(() => rotary(x, t([5, 4]), t([5, 4]))).toThrow('rotary: shapes [2, 3] and [5] cannot be broadcast together');
    expect(() => rotary(x, t([2, 1, 3, 4]), t([2, 1, 3, 4]))).toThrow('rotary: cos has more dims than x');
  });
});

describe('rotary backward', () => {
  // Random cos/sin whose halves differ, so the adjoint's use of sin at the partner index is tested.
  it('gradchecks x, cos and sin together', async () => {
    const report = await gradcheck({
      name: 'rotary',
      inputs: [{ shape: [2, 3, 4, 6] }, { shape: [4, 6] }, { shape: [4, 6] }],
      gpu: ([x, c, s]) => rotary(x!, c!, s!),
      ref: ([x, c, s]) => refRotary(x!, c!, s!),
    });
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });

  it('gradchecks partial rotary with per-batch tables', async () => {
    const report = await gradcheck({
      name: 'rotary partial',
      inputs: [{ shape: [2, 3, 5, 10] }, { shape: [2, 1, 5, 4] }, { shape: [2, 1, 5, 4] }],
      gpu: ([x, c, s]) => rotary(x!, c!, s!),
      ref: ([x, c, s]) => refRotary(x!, c!, s!),
    });
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });

  it('gradchecks x alone when the tables are constants', async () => {
    const report = await gradcheck({
      name: 'rotary x only',
      inputs: [{ shape: [3, 7, 8] }, { shape: [7, 8], grad: false }, { shape: [7, 8], grad: false }],
      gpu: ([x, c, s]) => rotary(x!, c!, s!),
      ref: ([x, c, s]) => refRotary(x!, c!, s!),
    });
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });

  it('gradchecks x given as a permuted view (q and k as [B, H, T, D] views of [B, T, H, D])', async () => {
    const report = await gradcheck({
      name: 'rotary permuted x',
      inputs: [{ shape: [2, 5, 3, 6] }, { shape: [5, 6] }, { shape: [5, 6] }],
      gpu: ([x, c, s]) => rotary(permute(x!, [0, 2, 1, 3]), c!, s!),
      ref: ([x, c, s]) => refRotary(refPermute(x!, [0, 2, 1, 3]), c!, s!),
    });
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });

  it("writes x's gradient in x's memory order: back through the permute and reshape without a copy", async () => {
    const random = rng(17);
    const [B, T, H, D] = [1, 5, 3, 8];
    const flat = Tensor.fromArray(randomArray(B * T * H * D, random), [B, T, H * D]);
    flat.setRequiresGrad(true);
    const { cos, sin } = rotaryTables(T, D);
    const y = rotary(permute(reshape(flat, [B, T, H, D]), [0, 2, 1, 3]), cos, sin);
    const seed = Tensor.fromArray(randomArray(B * H * T * D, random), [B, H, T, D]);
    const keys: string[] = [];
    const stop = runtime().onDispatch((launch) => keys.push(launch.key));
    backward(y, { seed });
    stop();
    expect(keys.filter((k) => k.startsWith('elementwise/'))).toEqual([]);
    expect(keys.some((k) => k.includes('"stridedOut":true'))).toBe(true);
    // The adjoint by hand: g ⊙ cos + rotateHalfᵀ(g ⊙ sin), rotateHalfᵀ(y) = concat(y[h:], −y[:h]).
    const [g, c, sn] = [await seed.toArray(), await cos.toArray(), await sin.toArray()];
    const expected = new Array<number>(B * T * H * D).fill(0);
    for (let hd = 0; hd < H; hd++)
      for (let t = 0; t < T; t++)
        for (let d = 0; d < D; d++) {
          const h = D / 2;
          const at = (dd: number): number => g[(hd * T + t) * D + dd]! * sn[t * D + dd]!;
          const partner = d < h ? at(d + h) : -at(d - h);
          expected[(t * H + hd) * D + d] = g[(hd * T + t) * D + d]! * c[t * D + d]! + partner;
        }
    expectClose(await flat.grad!.toArray(), expected, { rtol: 1e-5, atol: 1e-6 }, 'x gradient');
  });

  it('rotateHalf is differentiable', async () => {
    const report = await gradcheck({
      name: 'rotateHalf',
      inputs: [{ shape: [3, 6] }],
      gpu: ([x]) => rotateHalf(x!),
      ref: ([x]) => refRotateHalf(x!),
    });
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });
});

describe('rotaryTableGrads: the tables\' gradients in one dispatch', () => {
  // x read through a permuted view, partial rotary (R < D), tables shared by heads (and batch rows).
  for (const table of [[5, 4], [2, 1, 5, 4]]) {
    it(`x [2, 3, 5, 6] (strided), table [${table.join(', ')}], factor ½: Σ g ⊙ x and Σ g ⊙ rotateHalf(x) over the broadcast dims`, async () => {
      const random = rng(31);
      const [B, H, T, D, R] = [2, 3, 5, 6, 4];
      const xData = randomArray(B * T * H * D, random); // stored [B, T, H, D]
      const gData = randomArray(B * H * T * D, random);
      const x = permute(Tensor.fromArray(xData, [B, T, H, D]), [0, 2, 1, 3]);
      const g = Tensor.fromArray(gData, [B, H, T, D]);
      const { gcos, gsin } = rotaryTableGrads(g, x, table, 0.5);
      const perBatch = table.length === 4;
      const expected = (rotated: boolean): number[] => {
        const out = new Array<number>(numel(table)).fill(0);
        for (let b = 0; b < B; b++)
          for (let hd = 0; hd < H; hd++)
            for (let t = 0; t < T; t++)
              for (let r = 0; r < R; r++) {
                const xAt = (d: number): number => xData[((b * T + t) * H + hd) * D + d]!;
                const xv = rotated ? (r < R / 2 ? -xAt(r + R / 2) : xAt(r - R / 2)) : xAt(r);
                const at = ((perBatch ? b : 0) * T + t) * R + r;
                out[at] = out[at]! + 0.5 * gData[((b * H + hd) * T + t) * D + r]! * xv;
              }
        return out;
      };
      expect(gcos.shape).toEqual(table);
      expectClose(await wrap(gcos).toArray(), expected(false), { rtol: 1e-5, atol: 1e-6 }, 'cos');
      expectClose(await wrap(gsin).toArray(), expected(true), { rtol: 1e-5, atol: 1e-6 }, 'sin');
    });
  }

  it('refuses a table that does not broadcast to x', () => {
    const x = Tensor.fromArray(new Float32Array(2 * 5 * 6), [2, 5, 6]);
    expect(() => rotaryTableGrads(x, x, [3, 4])).toThrow('rotaryTableGrads: table [3, 4] does not broadcast to x [2, 5, 6]');
    expect(() => rotaryTableGrads(x, x, [5, 8])).toThrow('does not fit');
  });
});

describe('rotaryTables', () => {
  it('matches HF LLaMA tables (inv_freq = 1/θ^(2i/R), emb = cat(freqs, freqs)), partial widths too', async () => {
    for (const [positions, dim, theta, partial] of [
      [6, 8, 10000, 1],
      [[0, 5, 9, 200], 16, 1e6, 1],
      [5, 64, 10000, 0.25],
    ] as const) {
      const { cos, sin } = rotaryTables(positions, dim, theta, partial);
      const list = typeof positions === 'number' ? Array.from({ length: positions }, (_, t) => t) : [...positions];
      const ref = refRotaryTables(list, dim, theta, partial);
      expect(cos.shape).toEqual(ref.cos.shape);
      expectClose(await cos.toArray(), ref.cos.data, { rtol: 0, atol: 1e-7 }, `cos ${dim}`);
      expectClose(await sin.toArray(), ref.sin.data, { rtol: 0, atol: 1e-7 }, `sin ${dim}`);
    }
    expect(() => rotaryTables(4, 6, 10000, 0.5)).toThrow('rotaryTables: dim 6 × partialFactor 0.5 must give an even rotary width, got 3');
  });

  it('can reproduce PyTorch float32 angle rounding at large positions', async () => {
    const positions = [4097, 8191];
    const exact = await rotaryTables(positions, 8).cos.toArray();
    const torchLike = await rotaryTables(positions, 8, 10000, 1, { float32Angles: true }).cos.toArray();
    // Column 1: inv_freq = f32(1 / f32(10000^0.25)) = f32(0.1); angle = f32(4097 · f32(0.1)).
    const angle = Math.fround(4097 * Math.fround(0.1));
    expect(torchLike[1]).toBe(Math.fround(Math.cos(angle)));
    expectClose(torchLike, exact, { rtol: 0, atol: 1e-3 }, 'f32 vs f64 angles');
    expect(Array.from(torchLike)).not.toEqual(Array.from(exact));
  });
});
