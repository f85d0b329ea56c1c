/** concat / stack: strided copies into slices of one output; the backward slices the gradient. */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { Tensor, concat, stack, transpose, mul, sum } from '../autograd/index.js';
import { gradcheck } from '../autograd/gradcheck.js';
import { refTensor, refPermute } from '../kernels/reference/tensor.js';
import { refConcat } from '../kernels/reference/gather.js';
import { numel } from '../kernels/shape.js';
import { backward } from '../autograd/backward.js';

beforeAll(async () => {
  await gpu();
});

interface FixtureCase {
  name: string;
  attrs: { axis?: number };
  inputs: Record<string, { shape: number[]; data: number[] }>;
  output: { data: number[] };
  w: { shape: number[]; data: number[] };
  grads: Record<string, { data: number[] }>;
}

describe('concat', () => {
  it('matches the reference for every axis, odd sizes and empty parts', async () => {
    const random = rng(5);
    const cases: { shapes: number[][]; axis: number }[] = [
      { shapes: [[2, 3], [2, 5], [2, 1]], axis: 1 },
      { shapes: [[1, 3, 2], [4, 3, 2]], axis: 0 },
      { shapes: [[3, 2, 7], [3, 0, 7], [3, 5, 7]], axis: 1 },
      { shapes: [[3, 2, 7], [3, 2, 9]], axis: -1 },
      { shapes: [[17]], axis: 0 },
      { shapes: [[0, 4], [0, 4]], axis: 0 },
      { shapes: [[64, 300], [64, 211]], axis: 1 },
    ];
    for (const { shapes, axis } of cases) {
      const data = shapes.map((s) => randomArray(numel(s), random));
      const ts = shapes.map((s, k) => Tensor.fromArray(data[k]!, s));
      const out = concat(ts, axis);
      const a = axis < 0 ? axis + shapes[0]!.length : axis;
      const ref = refConcat(shapes.map((s, k) => refTensor(s, data[k]!)), a);
      expect(out.shape).toEqual(ref.shape);
      expectClose(await out.toArray(), ref.data, { rtol: 0, atol: 0 }, `concat ${JSON.stringify(shapes)} axis ${axis}`);
    }
  });

  it('reads strided views and keeps i32', async () => {
    const x = Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
    const out = concat([transpose(x), Tensor.fromArray([7, 8, 9], [3, 1])], 1);
    expect(await out.toNested()).toEqual([[1, 4, 7], [2, 5, 8], [3, 6, 9]]);
    const ints = concat([Tensor.fromArray([1, 2], [2], 'i32'), Tensor.fromArray([3], [1], 'i32')], 0);
    expect(ints.dtype).toBe('i32');
    expect(Array.from(await ints.toArray())).toEqual([1, 2, 3]);
  });

  it('gives each input its slice of the gradient (gradcheck, three inputs on a middle axis)', async () => {
    const report = await gradcheck({
      name: 'concat',
      inputs: [{ shape: [2, 1, 3] }, { shape: [2, 4, 3] }, { shape: [2, 2, 3] }],
      gpu: (xs) => concat(xs, 1),
      ref: (xs) => refConcat(xs, 1),
    });
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });

  it('differentiates through a transposed input', async () => {
    const report = await gradcheck({
      name: 'concat of a transpose',
      inputs: [{ shape: [3, 2] }, { shape: [2, 5] }],
      gpu: ([a, b]) => concat([transpose(a!), b!], 1),
      ref: ([a, b]) => refConcat([refPermute(a!, [1, 0]), b!], 1),
    });
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });

  it('matches the PyTorch fixtures', async () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/ops.json', import.meta.url), 'utf8')) as { ops: FixtureCase[] };
    const cases = fixture.ops.filter((o) => o.name === 'concat');
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      const names = Object.keys(c.inputs);
      const ts = names.map((n) => Tensor.fromArray(c.inputs[n]!.data, c.inputs[n]!.shape).setRequiresGrad());
      const out = concat(ts, c.attrs.axis!);
      expectClose(await out.toArray(), c.output.data, { rtol: 1e-6, atol: 1e-7 }, 'forward');
      backward(out, { seed: Tensor.fromArray(c.w.data, c.w.shape) });
      for (let k = 0; k < names.length; k++) {
        expectClose(await ts[k]!.grad!.toArray(), c.grads[names[k]!]!.data, { rtol: 1e-6, atol: 1e-7 }, `grad ${names[k]}`);
      }
    }
  });

  it('gives no gradient to inputs that do not need one', async () => {
    const a = Tensor.fromArray([1, 2], [2]).setRequiresGrad();
    const b = Tensor.fromArray([3, 4, 5], [3]);
    backward(sum(mul(concat([a, b], 0), Tensor.fromArray([1, 2, 3, 4, 5], [5]))));
    expect(Array.from(await a.grad!.toArray())).toEqual([1, 2]);
    expect(b.grad).toBeNull();
  });

  it('names every shape when they disagree off the axis', () => {
    const a = Tensor.fromArray(new Float32Array(6), [2, 3]);
    const b = Tensor.fromArray(new Float32Array(8), [4, 2]);
    expect(() => concat([a, b], 1)).toThrow('concat: shapes [2, 3], [4, 2] differ outside axis 1');
    expect(() => concat([a, Tensor.fromArray(new Float32Array(6), [6])], 0)).toThrow('concat: shapes [2, 3], [6] differ outside axis 0');
    expect(() => concat([a, Tensor.fromArray(new Float32Array(6), [2, 3], 'i32')], 0)).toThrow('concat: mixed dtypes f32 and i32');
    expect(() => concat([], 0)).toThrow('concat: needs at least one tensor');
    expect(() => concat([a], 2)).toThrow('concat: axis 2 is out of range for a tensor of rank 2');
  });
});

describe('stack', () => {
  it('joins along a new axis and differentiates', async () => {
    const a = Tensor.fromArray([1, 2, 3], [3]).setRequiresGrad();
    const b = Tensor.fromArray([4, 5, 6], [3]).setRequiresGrad();
    const s = stack([a, b], 1);
    expect(s.shape).toEqual([3, 2]);
    expect(await s.toNested()).toEqual([[1, 4], [2, 5], [3, 6]]);
    backward(sum(mul(s, Tensor.fromArray([1, 10, 2, 20, 3, 30], [3, 2]))));
    expect(Array.from(await a.grad!.toArray())).toEqual([1, 2, 3]);
    expect(Array.from(await b.grad!.toArray())).toEqual([10, 20, 30]);
    expect(() => stack([a, Tensor.fromArray([1, 2], [2])])).toThrow('stack: shapes [3], [2] differ');
  });
});
