import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { refPermute, refReduce, refTensor, type RefTensor } from '../kernels/reference/tensor.js';
import { numel } from '../kernels/shape.js';
import { gradcheck } from '../autograd/gradcheck.js';
import { Tensor, argmax, max, mean, min, mul, permute, slice, sum, transpose, variance } from '../autograd/index.js';
import { backward } from '../autograd/backward.js';
import { wrap } from '../autograd/ops/wrap.js';
import { reduceProduct } from '../kernels/reduce.js';

beforeAll(async () => {
  await gpu();
});

type Axis = number | number[] | undefined;

const REF = {
  sum: (v: number[]) => v.reduce((a, b) => a + b, 0),
  mean: (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length,
  max: (v: number[]) => Math.max(...v),
  min: (v: number[]) => Math.min(...v),
  argmax: (v: number[]) => v.indexOf(Math.max(...v)),
  var: (v: number[], correction = 0) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return v.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(v.length - correction, 0);
  },
};

const GPU = {
  sum: (x: Tensor, axis: Axis, keepDim: boolean) => sum(x, axis, keepDim),
  mean: (x: Tensor, axis: Axis, keepDim: boolean) => mean(x, axis, keepDim),
  max: (x: Tensor, axis: Axis, keepDim: boolean) => max(x, axis, keepDim),
  min: (x: Tensor, axis: Axis, keepDim: boolean) => min(x, axis, keepDim),
  var: (x: Tensor, axis: Axis, keepDim: boolean) => variance(x, axis, keepDim),
};

function normAxes(axis: Axis, rank: number): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  return (typeof axis === 'number' ? [axis] : axis).map((a) => (a < 0 ? a + rank : a));
}

function refOf(op: keyof typeof REF, x: RefTensor, axis: Axis, keepDim: boolean): RefTensor {
  return refReduce(x, normAxes(axis, x.shape.length), keepDim, (v) => REF[op](v));
}

const AXES: Axis[] = [0, 1, -1, [0, 2], [1, 2], [0, 1, 2], undefined];
const label = (axis: Axis) => (axis === undefined ? 'all' : JSON.stringify(axis));

describe('reductions match the float64 reference', () => {
  const random = rng(31);
  const shape = [3, 4, 5];
  const data = randomArray(numel(shape), random, -3, 3);
  const x = () => Tensor.fromArray(data, shape);
  const rx = refTensor(shape, data);

  for (const op of ['sum', 'mean', 'max', 'min', 'var'] as const) {
    it(`${op} over single, multiple and all axes, keepDim both ways`, async () => {
      const t = x();
      for (const axis of AXES) {
        for (const keepDim of [false, true]) {
          const got = GPU[op](t, axis, keepDim);
          const expected = refOf(op, rx, axis, keepDim);
          expect(got.shape, `${op} ${label(axis)} keepDim=${keepDim}`).toEqual(expected.shape);
          expectClose(await got.toArray(), expected.data, { rtol: 1e-5, atol: 1e-6 }, `${op} ${label(axis)} keepDim=${keepDim}`);
        }
      }
    });
  }

  it('argmax along each axis, as i32, keepDim both ways', async () => {
    const t = x();
    for (const axis of [0, 1, 2, -1]) {
      for (const keepDim of [false, true]) {
        const got = argmax(t, axis, keepDim);
        expect(got.dtype).toBe('i32');
        const expected = refOf('argmax', rx, axis, keepDim);
        expect(got.shape).toEqual(expected.shape);
        expect(Array.from(await got.toArray()), `argmax ${axis} keepDim=${keepDim}`).toEqual(Array.from(expected.data));
      }
    }
  });

  it('variance with a correction (unbiased)', async () => {
    expectClose(await variance(x(), 1, false, 1).toArray(), refReduce(rx, [1], false, (v) => REF.var(v, 1)).data, { rtol: 1e-5, atol: 1e-6 }, 'unbiased');
  });

  it('variance stays accurate far from zero (data near 1e5 with a spread of 1)', async () => {
    const n = 5000;
    const offset = Float32Array.from(randomArray(n, random, -1, 1), (v) => 1e5 + v);
    const got = await variance(Tensor.fromArray(offset)).item();
    const expected = REF.var(Array.from(offset));
    expect(Math.abs(got - expected) / expected).toBeLessThan(1e-4);
  });

  it('0-d tensors reduce to themselves', async () => {
    const s = Tensor.fromArray(2.5);
    expect(await sum(s).item()).toBe(2.5);
    expect(await max(s).item()).toBe(2.5);
    expect(sum(s).shape).toEqual([]);
  });
});

describe('views are reduced in place', () => {
  const random = rng(37);
  const data = randomArray(4 * 6 * 5, random, -2, 2);
  const rx = refTensor([4, 6, 5], data);

  it('permuted and transposed inputs', async () => {
    const x = Tensor.fromArray(data, [4, 6, 5]);
    const p = permute(x, [2, 0, 1]);
    const rp = refPermute(rx, [2, 0, 1]);
    for (const axis of [0, 1, 2, [0, 2]] as Axis[]) {
      expectClose(await sum(p, axis).toArray(), refOf('sum', rp, axis, false).data, { rtol: 1e-5, atol: 1e-6 }, `sum permuted ${label(axis)}`);
      expectClose(await max(p, axis, true).toArray(), refOf('max', rp, axis, true).data, {}, `max permuted ${label(axis)}`);
    }
    const t = transpose(x, 0, 2);
    expect(Array.from(await argmax(t, 1).toArray())).toEqual(Array.from(refOf('argmax', refPermute(rx, [2, 1, 0]), 1, false).data));
  });

  it('stepped slices with an offset', async () => {
    const x = Tensor.fromArray(data, [4, 6, 5]);
    const s = slice(slice(x, 1, 1, 6, 2), 2, 1); // [4, 3, 4]
    const rs = refTensor([4, 3, 4], Array.from({ length: 48 }, (_, i) => {
      const [a, b, c] = [Math.floor(i / 12), Math.floor(i / 4) % 3, i % 4];
      return data[a * 30 + (1 + 2 * b) * 5 + (1 + c)]!;
    }));
    for (const axis of [0, 1, 2, undefined] as Axis[]) {
      expectClose(await mean(s, axis).toArray(), refOf('mean', rs, axis, false).data, { rtol: 1e-5, atol: 1e-6 }, `mean slice ${label(axis)}`);
      expectClose(await variance(s, axis, true).toArray(), refOf('var', rs, axis, true).data, { rtol: 1e-5, atol: 1e-6 }, `var slice ${label(axis)}`);
    }
  });
});

describe('empty dimensions and special values', () => {
  it('the sum of nothing is 0; empty outputs stay empty', async () => {
    expect(Array.from(await sum(Tensor.fromArray([], [0, 3]), 0).toArray())).toEqual([0, 0, 0]);
    expect(await sum(Tensor.fromArray([], [0])).item()).toBe(0);
    expect(Array.from(await sum(Tensor.fromArray([], [2, 0]), 1, true).toArray())).toEqual([0, 0]);
    const none = sum(Tensor.fromArray([], [0, 3]), 1);
    expect(none.shape).toEqual([0]);
    expect((await none.toArray()).length).toBe(0);
    expect(Number.isNaN(await mean(Tensor.fromArray([], [0])).item())).toBe(true);
  });

  it('max/min/argmax of an empty dimension is an error naming the op and the shape', () => {
    const e = Tensor.fromArray([], [2, 0]);
    expect(() => max(e, 1)).toThrow('max: cannot reduce an empty dimension (shape [2, 0], axes [1])');
    expect(() => min(e, 1)).toThrow(/^min: /);
    expect(() => argmax(e, 1)).toThrow(/^argmax: /);
  });

  it('bad axes are errors naming the op', () => {
    const x = Tensor.fromArray([1, 2, 3]);
    expect(() => sum(x, 1)).toThrow('sum: axis 1 is out of range for a tensor of rank 1');
    expect(() => mean(Tensor.fromArray([[1, 2]]), [1, -1])).toThrow(/mean: repeated axis/);
  });

  it('±∞ rows reduce to ±∞; NaN propagates through max and min; argmax takes the first maximum', async () => {
    const x = Tensor.fromArray([[-Infinity, -Infinity], [Infinity, 1], [NaN, 5], [2, 2]]);
    expect(Array.from(await max(x, 1).toArray())).toEqual([-Infinity, Infinity, NaN, 2]);
    expect(Array.from(await min(x, 1).toArray())).toEqual([-Infinity, 1, NaN, 2]);
    expect(Array.from(await argmax(x, 1).toArray())).toEqual([0, 0, 0, 0]);
    expect(await min(Tensor.fromArray([Infinity, Infinity])).item()).toBe(Infinity);
    expect(await argmax(Tensor.fromArray([1, 7, 3, 7]), 0).item()).toBe(1);
  });
});

describe('gradients (gradcheck against the reference)', () => {
  const shape = [3, 4, 2];
  for (const op of ['sum', 'mean', 'max', 'min', 'var'] as const) {
    it(op, async () => {
      for (const [axis, keepDim] of [[1, false], [-1, true], [[0, 2], false], [undefined, true], [undefined, false]] as [Axis, boolean][]) {
        const report = await gradcheck({
          name: `${op} ${label(axis)} keepDim=${keepDim}`,
          inputs: [{ shape, lo: -2, hi: 2 }],
          gpu: ([x]) => GPU[op](x!, axis, keepDim),
          ref: ([x]) => refOf(op, x!, axis, keepDim),
          seed: 3,
        });
        expect(report.ok, JSON.stringify(report)).toBe(true);
      }
    });
  }

  it('unbiased variance and reductions of views', async () => {
    const unbiased = await gradcheck({
      name: 'var correction 1',
      inputs: [{ shape: [4, 3] }],
      gpu: ([x]) => variance(x!, 0, false, 1),
      ref: ([x]) => refReduce(x!, [0], false, (v) => REF.var(v, 1)),
    });
    expect(unbiased.ok, JSON.stringify(unbiased)).toBe(true);
    const view = await gradcheck({
      name: 'max of a transposed view',
      inputs: [{ shape: [3, 5] }],
      gpu: ([x]) => max(transpose(x!), 1),
      ref: ([x]) => refOf('max', refPermute(x!, [1, 0]), 1, false),
    });
    expect(view.ok, JSON.stringify(view)).toBe(true);
  });

  it('max with ties shares the gradient equally among the tied elements', async () => {
    const x = Tensor.fromArray([[1, 3, 3], [2, 0, 1]]).setRequiresGrad();
    backward(sum(max(x, 1)));
    expect(Array.from(await x.grad!.toArray())).toEqual([0, 0.5, 0.5, 1, 0, 0]);
  });

  it('argmax passes no gradient (its indices are constants for what consumes them)', async () => {
    const x = Tensor.fromArray([[1, 5, 2], [7, 0, 3]]).setRequiresGrad();
    const idx = argmax(x, 1, true); // [[1], [0]]
    backward(sum(mul(x, idx)));
    expect(Array.from(await x.grad!.toArray())).toEqual([1, 1, 1, 0, 0, 0]);
  });
});

describe('reduceProduct (Σ x ⊙ y over axes, one kernel)', () => {
  const random = rng(23);
  // Contiguous, a transposed x against a contiguous y, a permuted y, keepDim, every axis, none.
  const cases: { shape: number[]; axes: number[]; keepDim: boolean; view: 'plain' | 'transposedX' | 'permutedY' }[] = [
    { shape: [2, 5, 6], axes: [0, 2], keepDim: false, view: 'plain' },
    { shape: [4, 7], axes: [1], keepDim: true, view: 'transposedX' },
    { shape: [3, 4, 5], axes: [0, 1], keepDim: false, view: 'permutedY' },
    { shape: [3, 4], axes: [0, 1], keepDim: false, view: 'plain' },
    { shape: [3, 4], axes: [], keepDim: false, view: 'plain' },
  ];
  for (const { shape, axes, keepDim, view } of cases) {
    it(`[${shape}] over [${axes}]${keepDim ? ', keepDim' : ''} (${view}): as mul then sum, against float64`, async () => {
      const [xs, ys] = [randomArray(numel(shape), random), randomArray(numel(shape), random)];
      const rank = shape.length;
      const reversed = Array.from({ length: rank }, (_, i) => rank - 1 - i);
      // x (or y) stored in reversed dim order and permuted back: same values, other strides.
      const stored = (data: Float32Array): Tensor => permute(Tensor.fromArray(refPermute(refTensor(shape, data), reversed).data, [...shape].reverse()), reversed);
      const x = view === 'transposedX' ? stored(xs) : Tensor.fromArray(xs, shape);
      const y = view === 'permutedY' ? stored(ys) : Tensor.fromArray(ys, shape);
      const got = wrap(reduceProduct(x, y, axes, keepDim));
      const product = mul(x, y);
      const twoPass = axes.length > 0 ? sum(product, axes, keepDim) : product;
      const expected = refReduce(refTensor(shape, Float64Array.from(xs, (v, i) => v * ys[i]!)), axes, keepDim, REF.sum);
      expect(got.shape).toEqual(expected.shape);
      expectClose(await got.toArray(), expected.data, { rtol: 1e-5, atol: 1e-6 });
      expect(Array.from(await got.toArray())).toEqual(Array.from(await twoPass.toArray()));
      for (const t of [x, y, got, product, twoPass]) t.dispose();
    });
  }

  it('refuses operands of two shapes or a 16-bit one', () => {
    const [a, b] = [Tensor.fromArray([1, 2, 3, 4], [2, 2]), Tensor.fromArray([1, 2, 3, 4], [4])];
    expect(() => reduceProduct(a, b, [0], false)).toThrow(/one shape/);
    const h = Tensor.fromHalfBits(Uint16Array.from([0x3f80, 0x3f80, 0x3f80, 0x3f80]), [2, 2], 'bf16');
    expect(() => reduceProduct(a, h, [0], false)).toThrow(/f32/);
    for (const t of [a, b, h]) t.dispose();
  });
});
