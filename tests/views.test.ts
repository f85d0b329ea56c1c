import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { refPermute, refTensor, type RefTensor } from '../kernels/reference/tensor.js';
import { isDenseLayout } from '../kernels/shape.js';
import { gradcheck } from '../autograd/gradcheck.js';
import {
  Tensor,
  clone,
  contiguous,
  detach,
  exp,
  expand,
  mul,
  permute,
  reshape,
  slice,
  squeeze,
  sum,
  transpose,
  unsqueeze,
} from '../autograd/index.js';
import { backward } from '../autograd/backward.js';

beforeAll(async () => {
  await gpu();
});

const iota = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Reference slice along `axis`: elements start, start + step, ... < end. */
function refSlice(x: RefTensor, axis: number, start: number, end: number, step: number): RefTensor {
  const picks: number[] = [];
  for (let i = start; i < end; i += step) picks.push(i);
  const shape = [...x.shape];
  shape[axis] = picks.length;
  const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) for (const p of picks) for (let k = 0; k < inner; k++) out.push(x.data[(o * x.shape[axis]! + p) * inner + k]!);
  return refTensor(shape, out);
}

/** Reference broadcast of `x` to `shape`. */
function refExpand(x: RefTensor, shape: number[]): RefTensor {
  const lead = shape.length - x.shape.length;
  const out = refTensor(shape);
  for (let i = 0; i < out.data.length; i++) {
    let rem = i;
    let src = 0;
    let stride = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      const c = rem % shape[d]!;
      rem = Math.floor(rem / shape[d]!);
      if (d >= lead) {
        const size = x.shape[d - lead]!;
        src += (size === 1 ? 0 : c) * stride;
        stride *= size;
      }
    }
    out.data[i] = x.data[src]!;
  }
  return out;
}

describe('reshape', () => {
  it('of a contiguous tensor is a view: same storage, new shape, -1 inferred', async () => {
    const x = Tensor.fromArray(iota(24), [2, 3, 4]);
    const y = reshape(x, [4, -1]);
    expect(y.shape).toEqual([4, 6]);
    expect(y.storage).toBe(x.storage);
    expect(Array.from(await y.toArray())).toEqual(iota(24));
    expect(reshape(x, [24]).storage).toBe(x.storage);
    // a contiguous slice with an offset is still viewed, not copied
    const rows = slice(x, 0, 1, 2);
    const flat = reshape(rows, [12]);
    expect(flat.storage).toBe(x.storage);
    expect(Array.from(await flat.toArray())).toEqual(iota(12).map((i) => i + 12));
  });

  it('of a transposed tensor copies (no strides can express it), with the right order', async () => {
    const x = Tensor.fromArray(iota(6), [2, 3]);
    const t = transpose(x); // [[0, 3], [1, 4], [2, 5]]
    const flat = reshape(t, [6]);
    expect(flat.storage).not.toBe(x.storage);
    expect(Array.from(await flat.toArray())).toEqual([0, 3, 1, 4, 2, 5]);
    // adding or removing size-1 dims of a non-contiguous tensor stays a view
    const withOnes = reshape(t, [3, 1, 2]);
    expect(withOnes.storage).toBe(x.storage);
    expect(Array.from(await withOnes.toArray())).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('refuses sizes that do not match, naming both shapes', () => {
    const x = Tensor.fromArray(iota(6), [2, 3]);
    expect(() => reshape(x, [4, 2])).toThrow('reshape: cannot reshape [2, 3] (6 elements) to [4, 2]');
    expect(() => reshape(x, [-1, -1])).toThrow(/more than one -1/);
    expect(() => reshape(x, [4, -1])).toThrow(/reshape: cannot reshape \[2, 3\]/);
  });
});

describe('permute, transpose, expand', () => {
  const data = randomArray(2 * 3 * 4, rng(41));
  const rx = refTensor([2, 3, 4], data);

  it('permute and transpose are views with permuted strides and the reference values', async () => {
    const x = Tensor.fromArray(data, [2, 3, 4]);
    const p = permute(x, [2, 0, 1]);
    expect(p.shape).toEqual([4, 2, 3]);
    expect(p.strides).toEqual([1, 12, 4]);
    expect(p.storage).toBe(x.storage);
    expectClose(await p.toArray(), refPermute(rx, [2, 0, 1]).data, {}, 'permute');
    expectClose(await transpose(x).toArray(), refPermute(rx, [0, 2, 1]).data, {}, 'transpose last two');
    expectClose(await transpose(x, 0, -1).toArray(), refPermute(rx, [2, 1, 0]).data, {}, 'transpose 0, -1');
    expectClose(await permute(p, [1, 2, 0]).toArray(), data, {}, 'inverse permutation');
    expect(() => permute(x, [0, 1])).toThrow('permute: [0, 1] is not a permutation of the 3 dims of [2, 3, 4]');
    expect(() => permute(x, [0, 1, 1])).toThrow(/permute: \[0, 1, 1\]/);
  });

  it('expand broadcasts with stride 0, adding leading dims', async () => {
    const x = Tensor.fromArray([1, 2, 3], [3, 1]);
    const e = expand(x, [2, 3, 4]);
    expect(e.shape).toEqual([2, 3, 4]);
    expect(e.strides).toEqual([0, 1, 0]);
    expect(e.storage).toBe(x.storage);
    expect(Array.from(await e.toArray())).toEqual(Array.from(refExpand(refTensor([3, 1], [1, 2, 3]), [2, 3, 4]).data));
    expect(() => expand(x, [2, 2])).toThrow('expand: cannot broadcast [3, 1] to [2, 2]');
    expect(() => expand(x, [1])).toThrow(/expand: cannot broadcast \[3, 1\] to \[1\]/);
  });
});

describe('slice, squeeze, unsqueeze', () => {
  const data = iota(5 * 7);
  const rx = refTensor([5, 7], data);

  it('slice with start, end and step; negative and clamped bounds; empty results', async () => {
    const x = Tensor.fromArray(data, [5, 7]);
    const cases: [number, number, number | undefined, number, [number, number, number]][] = [
      [1, 1, 6, 2, [1, 6, 2]],
      [0, 1, undefined, 1, [1, 5, 1]],
      [1, -3, undefined, 1, [4, 7, 1]],
      [1, 0, 100, 3, [0, 7, 3]],
      [0, 4, 2, 1, [4, 4, 1]],
      [1, 6, 7, 5, [6, 7, 5]],
    ];
    for (const [axis, start, end, step, [rs, re, rstep]] of cases) {
      const s = slice(x, axis, start, end, step);
      const expected = refSlice(rx, axis, rs, re, rstep);
      expect(s.shape, `slice(${axis}, ${start}, ${end}, ${step})`).toEqual(expected.shape);
      expect(s.storage).toBe(x.storage);
      expect(Array.from(await s.toArray())).toEqual(Array.from(expected.data));
    }
    // slices of slices compose offsets and strides
    const twice = slice(slice(x, 1, 1, 7, 2), 0, 1, 5, 3);
    expect(Array.from(await twice.toArray())).toEqual([8, 10, 12, 29, 31, 33]);
    expect(() => slice(x, 1, 0, 7, 0)).toThrow('slice: step must be a positive integer, got 0');
    expect(() => slice(x, 2, 0)).toThrow('slice: axis 2 is out of range for a tensor of rank 2');
  });

  it('squeeze and unsqueeze add and remove size-1 dims (also on non-contiguous views)', async () => {
    const x = Tensor.fromArray(iota(6), [1, 2, 1, 3]);
    expect(squeeze(x).shape).toEqual([2, 3]);
    expect(squeeze(x, 2).shape).toEqual([1, 2, 3]);
    expect(squeeze(x, -4).shape).toEqual([2, 1, 3]);
    expect(() => squeeze(x, 1)).toThrow('squeeze: dim 1 of [1, 2, 1, 3] is not 1');
    const y = Tensor.fromArray(iota(6), [2, 3]);
    expect(unsqueeze(y, 0).shape).toEqual([1, 2, 3]);
    expect(unsqueeze(y, 2).shape).toEqual([2, 3, 1]);
    expect(unsqueeze(y, -1).shape).toEqual([2, 3, 1]);
    expect(unsqueeze(y, -3).shape).toEqual([1, 2, 3]);
    expect(() => unsqueeze(y, 3)).toThrow('unsqueeze: axis 3 is out of range for a tensor of rank 2 (expected -3 to 2)');
    expect(() => unsqueeze(y, -4)).toThrow(/unsqueeze: axis -4/);
    const t = unsqueeze(transpose(y), 1);
    expect(t.shape).toEqual([3, 1, 2]);
    expect(t.storage).toBe(y.storage);
    expect(Array.from(await t.toArray())).toEqual([0, 3, 1, 4, 2, 5]);
    expect(Array.from(await squeeze(t).toArray())).toEqual([0, 3, 1, 4, 2, 5]);
  });
});

describe('contiguous, clone, detach', () => {
  it('contiguous materialises a view; of a contiguous tensor it is the same data', async () => {
    const x = Tensor.fromArray(iota(12), [3, 4]);
    const t = transpose(x);
    expect(t.contiguous).toBe(false);
    const c = contiguous(t);
    expect(c.contiguous).toBe(true);
    expect(c.storage).not.toBe(x.storage);
    expect(c.strides).toEqual([3, 1]);
    expect(Array.from(await c.toArray())).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    expect(contiguous(x).storage).toBe(x.storage);
    const e = contiguous(expand(Tensor.fromArray([7, 8]), [3, 2]));
    expect(Array.from(await e.toArray())).toEqual([7, 8, 7, 8, 7, 8]);
  });

  it('clone always copies; the copy outlives the original', async () => {
    const x = Tensor.fromArray([1, 2, 3]);
    const c = clone(x);
    expect(c.storage).not.toBe(x.storage);
    x.dispose();
    expect(Array.from(await c.toArray())).toEqual([1, 2, 3]);
  });

  it('views keep their storage alive after the base tensor is disposed', async () => {
    const x = Tensor.fromArray(iota(6), [2, 3]);
    const t = transpose(x);
    x.dispose();
    expect(Array.from(await t.toArray())).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('detach: same values, a visible node named detach, and no gradient through it', async () => {
    const x = Tensor.fromArray([1, 2, 3]).setRequiresGrad();
    const d = detach(x);
    expect(d.node!.op).toBe('detach');
    expect(d.storage).toBe(x.storage);
    expect(Array.from(await d.toArray())).toEqual([1, 2, 3]);
    // d(x · detach(x))/dx = detach(x): only the undetached operand carries gradient
    backward(sum(mul(x, d)));
    expect(Array.from(await x.grad!.toArray())).toEqual([1, 2, 3]);
    const z = Tensor.fromArray([4, 5]).setRequiresGrad();
    backward(sum(detach(z)));
    expect(z.grad).toBeNull();
  });
});

describe('gradients of the view ops (gradcheck against the reference)', () => {
  const cases: { name: string; shape: number[]; gpu: (x: Tensor) => Tensor; ref: (x: RefTensor) => RefTensor }[] = [
    { name: 'reshape (view)', shape: [2, 6], gpu: (x) => reshape(x, [3, 4]), ref: (x) => refTensor([3, 4], x.data) },
    { name: 'reshape of a transpose (copy)', shape: [2, 6], gpu: (x) => reshape(transpose(x), [4, 3]), ref: (x) => refTensor([4, 3], refPermute(x, [1, 0]).data) },
    { name: 'permute', shape: [2, 3, 4], gpu: (x) => permute(x, [1, 2, 0]), ref: (x) => refPermute(x, [1, 2, 0]) },
    { name: 'transpose', shape: [3, 5], gpu: (x) => transpose(x), ref: (x) => refPermute(x, [1, 0]) },
    { name: 'expand', shape: [3, 1], gpu: (x) => expand(x, [2, 3, 4]), ref: (x) => refExpand(x, [2, 3, 4]) },
    { name: 'slice with step', shape: [4, 7], gpu: (x) => slice(x, 1, 1, 7, 2), ref: (x) => refSlice(x, 1, 1, 7, 2) },
    { name: 'slice of a transpose', shape: [4, 5], gpu: (x) => slice(transpose(x), 0, 1, 4), ref: (x) => refSlice(refPermute(x, [1, 0]), 0, 1, 4, 1) },
    { name: 'squeeze/unsqueeze', shape: [3, 1, 2], gpu: (x) => unsqueeze(squeeze(x, 1), 0), ref: (x) => refTensor([1, 3, 2], x.data) },
    { name: 'contiguous', shape: [3, 4], gpu: (x) => contiguous(transpose(x)), ref: (x) => refPermute(x, [1, 0]) },
    { name: 'clone', shape: [5], gpu: (x) => clone(x), ref: (x) => refTensor([5], x.data) },
    // a nonlinearity after the view checks that gradients land on the right elements
    {
      name: 'exp of an expanded slice',
      shape: [3, 4],
      gpu: (x) => exp(expand(slice(x, 1, 2, 3), [2, 3, 5])),
      ref: (x) => {
        const e = refExpand(refSlice(x, 1, 2, 3, 1), [2, 3, 5]);
        return { shape: e.shape, data: e.data.map(Math.exp) };
      },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const report = await gradcheck({ name: c.name, inputs: [{ shape: c.shape }], gpu: ([x]) => c.gpu(x!), ref: ([x]) => c.ref(x!) });
      expect(report.forwardError).toBeLessThan(1e-6);
      expect(report.ok, JSON.stringify(report)).toBe(true);
    });
  }

  it('overlapping slices accumulate their gradients', async () => {
    const x = Tensor.fromArray([1, 2, 3, 4]).setRequiresGrad();
    backward(sum(mul(slice(x, 0, 0, 3), slice(x, 0, 1, 4)))); // x0x1 + x1x2 + x2x3
    expect(Array.from(await x.grad!.toArray())).toEqual([2, 4, 6, 3]);
  });
});

describe('isDenseLayout', () => {
  it('accepts every permutation of a row-major layout and refuses gaps, overlaps and broadcasts', () => {
    expect(isDenseLayout([2, 3, 4], [12, 4, 1])).toBe(true);
    expect(isDenseLayout([2, 3, 4], [4, 8, 1])).toBe(true); // [2, 4]·[3] permuted: q's [B, H, T, D] view
    expect(isDenseLayout([2, 1, 4], [4, 99, 1])).toBe(true); // a size-1 dim's stride does not matter
    expect(isDenseLayout([2, 3, 4], [24, 4, 1])).toBe(false); // a gap: a slice of something larger
    expect(isDenseLayout([2, 3, 4], [0, 4, 1])).toBe(false); // broadcast
    expect(isDenseLayout([2, 3, 4], [4, 4, 1])).toBe(false); // overlapping
  });
});
