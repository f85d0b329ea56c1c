import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { Tensor, expand, layerNorm, layerNormStats, mul, rmsNorm, rmsNormScale, slice, sum, transpose } from '../autograd/index.js';
import { gradcheck } from '../autograd/gradcheck.js';
import { normRows, normStats } from '../kernels/norm.js';
import { wrap } from '../autograd/ops/wrap.js';
import { refLayerNorm, refLayerNormStats, refRmsNorm, refRmsNormScale } from '../kernels/reference/norm.js';
import { refPermute, refTensor, type RefTensor } from '../kernels/reference/tensor.js';
import { backward } from '../autograd/backward.js';

beforeAll(async () => {
  await gpu();
});

const TOL = { rtol: 1e-4, atol: 2e-5 };

function numelOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

describe('layerNorm and rmsNorm kernels match the float64 reference', () => {
  const random = rng(21);
  const shapes: number[][] = [[1, 1], [4, 1], [7], [3, 7], [2, 3, 33], [2, 256], [3, 257], [2, 5000]];
  for (const shape of shapes) {
    it(`shape [${shape.join(', ')}], with and without weight and bias`, async () => {
      const n = shape[shape.length - 1]!;
      const data = randomArray(numelOf(shape), random, -3, 3);
      const wData = randomArray(n, random, 0.5, 1.5);
      const bData = randomArray(n, random, -0.5, 0.5);
      const x = Tensor.fromArray(data, shape);
      const w = Tensor.fromArray(wData, [n]);
      const b = Tensor.fromArray(bData, [n]);
      const rx = refTensor(shape, data);
      const rw = refTensor([n], wData);
      const rb = refTensor([n], bData);
      expectClose(await layerNorm(x, w, b, 1e-5).toArray(), refLayerNorm(rx, rw, rb, 1e-5).data, TOL, 'layerNorm w b');
      expectClose(await layerNorm(x, w, null, 1e-5).toArray(), refLayerNorm(rx, rw, null, 1e-5).data, TOL, 'layerNorm w');
      expectClose(await layerNorm(x, null, b, 1e-5).toArray(), refLayerNorm(rx, null, rb, 1e-5).data, TOL, 'layerNorm b');
      expectClose(await layerNorm(x).toArray(), refLayerNorm(rx, null, null, 1e-5).data, TOL, 'layerNorm');
      expectClose(await rmsNorm(x, w, 1e-6).toArray(), refRmsNorm(rx, rw, 1e-6).data, TOL, 'rmsNorm w');
      expectClose(await rmsNorm(x, null, 1e-6).toArray(), refRmsNorm(rx, null, 1e-6).data, TOL, 'rmsNorm');
    });
  }

  it('rows of length 1: LayerNorm gives the bias (variance 0), RMSNorm gives ±1·w', async () => {
    const x = Tensor.fromArray([[2], [-3], [0.5]]);
    expect(Array.from(await layerNorm(x, Tensor.fromArray([2]), Tensor.fromArray([0.25])).toArray())).toEqual([0.25, 0.25, 0.25]);
    expectClose(await rmsNorm(x, Tensor.fromArray([2]), 0).toArray(), [2, -2, 2], { rtol: 1e-6 }, 'rms length 1');
  });

  it('stays accurate when the mean is far larger than the spread (Welford/Chan, not E[x²] − E[x]²)', async () => {
    const random = rng(5);
    const n = 3000;
    const data = Float32Array.from(randomArray(n, random, -1, 1), (v) => 1e4 + v);
    const x = Tensor.fromArray(data, [1, n]);
    expectClose(await layerNorm(x).toArray(), refLayerNorm(refTensor([1, n], data), null, null, 1e-5).data, { rtol: 1e-4, atol: 1e-4 }, 'offset 1e4');
    const { mean, rstd } = layerNormStats(x);
    const ref = refLayerNormStats(refTensor([1, n], data), 1e-5);
    expectClose(await mean.toArray(), ref.mean.data, { rtol: 1e-7 }, 'mean at offset 1e4');
    expectClose(await rstd.toArray(), ref.rstd.data, { rtol: 1e-4 }, 'rstd at offset 1e4');
  });

  it('every workgroup size gives the same result (GPUs use 32 to 256; lavapipe uses 64)', async () => {
    const random = rng(6);
    const shape = [3, 700];
    const data = randomArray(2100, random, -2, 4);
    const wData = randomArray(700, random, 0.5, 1.5);
    const x = Tensor.fromArray(data, shape);
    const w = Tensor.fromArray(wData);
    const rx = refTensor(shape, data);
    const stats = refLayerNormStats(rx, 1e-5);
    for (const wg of [100, 256]) {
      const ln = wrap(normRows('layerNorm', x, { center: true, eps: 1e-5, weight: w, workgroupSize: wg }));
      expectClose(await ln.toArray(), refLayerNorm(rx, refTensor([700], wData), null, 1e-5).data, TOL, `layerNorm workgroup ${wg}`);
      const s = normStats('layerNormStats', x, true, 1e-5, wg);
      expectClose(await wrap(s.mean!).toArray(), stats.mean.data, { rtol: 1e-5, atol: 1e-6 }, `mean workgroup ${wg}`);
      expectClose(await wrap(s.rstd).toArray(), stats.rstd.data, { rtol: 1e-5 }, `rstd workgroup ${wg}`);
    }
  });

  it('a row whose squares overflow f32 gives NaN, not a silent 0, in both row layouts; other rows are untouched', async () => {
    const [rows, n] = [3, 32];
    const data = randomArray(rows * n, rng(4), -1, 1);
    data[n + 5] = 3e38; // row 1: its variance (or mean square) overflows
    const x = Tensor.fromArray(data, [rows, n]);
    for (const center of [true, false]) {
      const input = refTensor([rows, n], data);
      const ref = (center ? refLayerNorm(input, null, null, 1e-5) : refRmsNorm(input, null, 1e-5)).data;
      for (const workgroupSize of [undefined, 64]) {
        const y = Array.from(await wrap(normRows('norm', x, { center, eps: 1e-5, ...(workgroupSize ? { workgroupSize } : {}) })).toArray());
        const label = `${center ? 'LayerNorm' : 'RMSNorm'}, ${workgroupSize ? `wg${workgroupSize}` : 'default layout'}`;
        expect(y.slice(n, 2 * n).every(Number.isNaN), label).toBe(true);
        expectClose([...y.slice(0, n), ...y.slice(2 * n)], [...ref.slice(0, n), ...ref.slice(2 * n)], { rtol: 1e-5, atol: 1e-6 }, label);
      }
    }
    x.dispose();
  });

  it('many rows (more workgroups than one dispatch dimension holds)', async () => {
    const rows = 70_000;
    const data = randomArray(rows * 3, rng(9), -2, 2);
    const got = await rmsNorm(Tensor.fromArray(data, [rows, 3])).toArray();
    expectClose(got, refRmsNorm(refTensor([rows, 3], data), null, 1e-6).data, TOL, 'many rows');
  });

  it('non-contiguous x, strided and broadcast (stride 0) weights', async () => {
    const random = rng(13);
    const data = randomArray(5 * 8, random, -2, 2);
    const x = transpose(Tensor.fromArray(data, [5, 8])); // [8, 5], not contiguous
    const rx = refPermute(refTensor([5, 8], data), [1, 0]);
    const long = randomArray(10, random, 0.5, 1.5);
    const w = slice(Tensor.fromArray(long), 0, 1, 10, 2); // [5] with stride 2
    const rw = refTensor([5], [1, 3, 5, 7, 9].map((i) => long[i]!));
    const b = expand(Tensor.fromArray([0.3]), [5]); // [5] with stride 0
    const rb = refTensor([5], new Array(5).fill(0.3));
    expectClose(await layerNorm(x, w, b).toArray(), refLayerNorm(rx, rw, rb, 1e-5).data, TOL, 'strided layerNorm');
    expectClose(await rmsNorm(x, w).toArray(), refRmsNorm(rx, rw, 1e-6).data, TOL, 'strided rmsNorm');
  });

  it('empty tensors give empty results', async () => {
    expect(layerNorm(Tensor.fromArray([], [0, 4])).shape).toEqual([0, 4]);
    expect((await rmsNorm(Tensor.fromArray([], [3, 0])).toArray()).length).toBe(0);
    // statistics of rows of length 0 are NaN, like the mean of nothing
    const { mean, rstd } = layerNormStats(Tensor.fromArray([], [2, 0]));
    expect(Array.from(await mean.toArray())).toEqual([NaN, NaN]);
    expect(Array.from(await rstd.toArray())).toEqual([NaN, NaN]);
    expect(Array.from(await rmsNormScale(Tensor.fromArray([], [1, 0])).toArray())).toEqual([NaN]);
  });

  it('wrong weight or bias shapes are refused, naming the op and both shapes', () => {
    const x = Tensor.fromArray(new Float32Array(8), [2, 4]);
    expect(() => layerNorm(x, Tensor.fromArray([1, 1, 1]))).toThrow(/layerNorm: weight of shape \[3\].*x of shape \[2, 4\]/);
    expect(() => layerNorm(x, null, Tensor.fromArray(new Float32Array(8), [2, 4]))).toThrow(/layerNorm: bias of shape \[2, 4\]/);
    expect(() => rmsNorm(x, Tensor.fromArray([1, 2, 3, 4, 5]))).toThrow(/rmsNorm: weight of shape \[5\].*\[2, 4\]/);
    expect(() => layerNorm(Tensor.fromArray(2))).toThrow(/layerNorm: .*0-d/);
  });
});

describe('statistics helpers (for "norm scale detached" rules)', () => {
  it('layerNormStats: mean and rsqrt(var + eps) shaped [..., 1], as constants', async () => {
    const data = randomArray(2 * 3 * 50, rng(17), -2, 3);
    const x = Tensor.fromArray(data, [2, 3, 50]).setRequiresGrad();
    const { mean, rstd } = layerNormStats(x, 1e-3);
    const ref = refLayerNormStats(refTensor([2, 3, 50], data), 1e-3);
    expect(mean.shape).toEqual([2, 3, 1]);
    expect(rstd.shape).toEqual([2, 3, 1]);
    expect(mean.requiresGrad || rstd.requiresGrad).toBe(false);
    expectClose(await mean.toArray(), ref.mean.data, { rtol: 1e-5, atol: 1e-6 }, 'mean');
    expectClose(await rstd.toArray(), ref.rstd.data, { rtol: 1e-5 }, 'rstd');
  });

  it('rmsNormScale: rsqrt(mean(x²) + eps) shaped [..., 1]; works on views', async () => {
    const data = randomArray(6 * 4, rng(19), -2, 2);
    const x = transpose(Tensor.fromArray(data, [6, 4]));
    const scale = rmsNormScale(x, 1e-6);
    expect(scale.shape).toEqual([4, 1]);
    expectClose(await scale.toArray(), refRmsNormScale(refPermute(refTensor([6, 4], data), [1, 0]), 1e-6).data, { rtol: 1e-5 }, 'scale');
  });

  it('the stats reproduce the norms: (x − mean)·rstd·w + b and x·scale·w', async () => {
    const data = randomArray(4 * 9, rng(23), -2, 2);
    const x = Tensor.fromArray(data, [4, 9]);
    const w = Tensor.fromArray(randomArray(9, rng(24), 0.5, 1.5));
    const { mean, rstd } = layerNormStats(x);
    const rebuilt = new Float32Array(36);
    const [m, r, xs, ws] = await Promise.all([mean.toArray(), rstd.toArray(), x.toArray(), w.toArray()]);
    for (let i = 0; i < 36; i++) rebuilt[i] = (xs[i]! - m[Math.floor(i / 9)]!) * r[Math.floor(i / 9)]! * ws[i % 9]!;
    expectClose(await layerNorm(x, w).toArray(), rebuilt, { rtol: 1e-5, atol: 1e-6 }, 'layerNorm from stats');
    const s = await rmsNormScale(x).toArray();
    expectClose(await rmsNorm(x, w).toArray(), Float32Array.from(xs, (v, i) => v * s[Math.floor(i / 9)]! * ws[i % 9]!), { rtol: 1e-5, atol: 1e-6 }, 'rmsNorm from scale');
  });
});

describe('gradients (full: through the mean and the scale)', () => {
  const cases: { name: string; shapes: number[][]; gpu: (t: Tensor[]) => Tensor; ref: (r: RefTensor[]) => RefTensor }[] = [
    { name: 'layerNorm x w b', shapes: [[3, 6], [6], [6]], gpu: ([x, w, b]) => layerNorm(x!, w!, b!, 1e-5), ref: ([x, w, b]) => refLayerNorm(x!, w!, b!, 1e-5) },
    { name: 'layerNorm x w', shapes: [[2, 2, 5], [5]], gpu: ([x, w]) => layerNorm(x!, w!, null, 1e-5), ref: ([x, w]) => refLayerNorm(x!, w!, null, 1e-5) },
    { name: 'layerNorm x b', shapes: [[3, 4], [4]], gpu: ([x, b]) => layerNorm(x!, null, b!, 1e-5), ref: ([x, b]) => refLayerNorm(x!, null, b!, 1e-5) },
    { name: 'layerNorm x', shapes: [[4, 7]], gpu: ([x]) => layerNorm(x!, null, null, 1e-5), ref: ([x]) => refLayerNorm(x!, null, null, 1e-5) },
    { name: 'layerNorm row length 1', shapes: [[3, 1], [1], [1]], gpu: ([x, w, b]) => layerNorm(x!, w!, b!, 1e-5), ref: ([x, w, b]) => refLayerNorm(x!, w!, b!, 1e-5) },
    { name: 'rmsNorm x w', shapes: [[3, 6], [6]], gpu: ([x, w]) => rmsNorm(x!, w!, 1e-6), ref: ([x, w]) => refRmsNorm(x!, w!, 1e-6) },
    { name: 'rmsNorm x', shapes: [[2, 3, 5]], gpu: ([x]) => rmsNorm(x!, null, 1e-6), ref: ([x]) => refRmsNorm(x!, null, 1e-6) },
    { name: 'rmsNorm of a transposed view', shapes: [[5, 3], [5]], gpu: ([x, w]) => rmsNorm(transpose(x!), w!, 1e-6), ref: ([x, w]) => refRmsNorm(refPermute(x!, [1, 0]), w!, 1e-6) },
  ];
  for (const c of cases) {
    it(`gradcheck ${c.name}`, async () => {
      const report = await gradcheck({
        name: c.name,
        inputs: c.shapes.map((shape, i) => ({ shape, lo: i === 1 ? 0.5 : -2, hi: i === 1 ? 1.5 : 2 })),
        gpu: c.gpu,
        ref: c.ref,
      });
      expect(report.forwardError).toBeLessThan(1e-4);
      expect(report.ok, JSON.stringify(report)).toBe(true);
    });
  }

  it('only the inputs that need a gradient get one', async () => {
    const x = Tensor.fromArray(randomArray(12, rng(3), -1, 1), [3, 4]);
    const w = Tensor.fromArray([1, 2, 3, 4]).setRequiresGrad();
    const b = Tensor.fromArray([0, 0, 0, 0]);
    const y = layerNorm(x, w, b);
    expect(y.node!.op).toBe('layerNorm');
    backward(sum(y));
    expect(x.grad).toBeNull();
    expect(b.grad).toBeNull();
    // Σ_rows x̂ per column; each row of x̂ sums to 0, so the total over columns is ≈ 0
    const gw = await w.grad!.toArray();
    expect(Math.abs(Array.from(gw).reduce((a, v) => a + v, 0))).toBeLessThan(1e-5);
  });
});

describe('PyTorch fixtures (tests/fixtures/ops.json)', () => {
  interface T { shape: number[]; data: number[] }
  interface Case { name: string; case: string; attrs: { eps: number }; inputs: Record<string, T>; output: T; w: T; grads: Record<string, T> }
  const fixtures = JSON.parse(readFileSync(new URL('./fixtures/ops.json', import.meta.url), 'utf8')) as { ops: Case[] };
  const cases = fixtures.ops.filter((c) => c.name === 'layer_norm' || c.name === 'rms_norm');

  it('has the layer_norm and rms_norm cases', () => {
    expect(cases.map((c) => c.name).sort()).toEqual(['layer_norm', 'rms_norm']);
  });

  for (const c of cases) {
    it(`${c.name} ${c.case}: output and every gradient of sum(out·w)`, async () => {
      const t = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, Tensor.fromArray(v.data, v.shape).setRequiresGrad()]));
      const y = c.name === 'layer_norm' ? layerNorm(t.x!, t.weight!, t.bias!, c.attrs.eps) : rmsNorm(t.x!, t.weight!, c.attrs.eps);
      expectClose(await y.toArray(), c.output.data, { rtol: 1e-5, atol: 1e-5 }, `${c.name} output`);
      backward(sum(mul(y, Tensor.fromArray(c.w.data, c.w.shape))));
      for (const [k, g] of Object.entries(c.grads)) expectClose(await t[k]!.grad!.toArray(), g.data, { rtol: 1e-4, atol: 1e-5 }, `${c.name} grad ${k}`);
    });
  }
});
