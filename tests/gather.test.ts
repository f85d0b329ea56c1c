/**
 * Indexing: embedding lookup, gather (NumPy take) and the deterministic scatter-add that is their
 * backward, against the float64 reference on odd, repeated, empty and large cases, plus gradcheck.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { Tensor, checkIds, embedding, gather, scatterAdd, slice, transpose } from '../autograd/index.js';
import { gradcheck } from '../autograd/gradcheck.js';
import { refTensor } from '../kernels/reference/tensor.js';
import { refScatterAdd, refTake } from '../kernels/reference/gather.js';
import { numel } from '../kernels/shape.js';
import { backward } from '../autograd/backward.js';

beforeAll(async () => {
  await gpu();
});

const randomIds = (n: number, vocab: number, random: () => number): Int32Array => Int32Array.from({ length: n }, () => Math.floor(random() * vocab));

describe('embedding', () => {
  it('looks up rows for ids of any shape (odd sizes, repeats, scalar, empty)', async () => {
    const random = rng(1);
    const cases: [number, number, number[]][] = [
      [7, 5, [3, 4]],
      [13, 1, [9]],
      [3, 17, [2, 2, 5]],
      [11, 6, []],
      [11, 6, [0]],
      [11, 6, [2, 0, 3]],
      [50, 33, [1, 257]],
    ];
    for (const [V, D, idShape] of cases) {
      const table = randomArray(V * D, random);
      const ids = randomIds(numel(idShape), V, random);
      const t = Tensor.fromArray(table, [V, D]);
      const i = Tensor.fromArray(ids, idShape, 'i32');
      const out = embedding(t, i);
      expect(out.shape).toEqual([...idShape, D]);
      const ref = refTake(refTensor([V, D], table), 0, refTensor(idShape, ids));
      expectClose(await out.toArray(), ref.data, { rtol: 0, atol: 0 }, `V=${V} D=${D} ids ${idShape}`);
      for (const x of [t, i, out]) x.dispose();
    }
  });

  it('gives the table gradient by scatter-add, accumulating repeated ids (gradcheck)', async () => {
    const ids = [2, 9, 4, 7, 2, 2, 0, 9];
    const idT = Tensor.fromArray(ids, [2, 4], 'i32');
    const report = await gradcheck({
      name: 'embedding',
      inputs: [{ shape: [10, 3] }],
      gpu: ([table]) => embedding(table!, idT),
      ref: ([table]) => refTake(table!, 0, refTensor([2, 4], ids)),
    });
    expect(report.ok, JSON.stringify(report)).toBe(true);
    idT.dispose();
  });

  it('matches the PyTorch fixture (repeated ids)', async () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/ops.json', import.meta.url), 'utf8')) as {
      ops: { name: string; inputs: Record<string, { shape: number[]; data: number[] }>; output: { data: number[] }; w: { shape: number[]; data: number[] }; grads: Record<string, { data: number[] }> }[];
    };
    const c = fixture.ops.find((o) => o.name === 'embedding')!;
    const table = Tensor.fromArray(c.inputs.table!.data, c.inputs.table!.shape).setRequiresGrad();
    const ids = Tensor.fromArray(c.inputs.ids!.data, c.inputs.ids!.shape, 'i32');
    const out = embedding(table, ids);
    expectClose(await out.toArray(), c.output.data, { rtol: 1e-6, atol: 1e-7 }, 'forward');
    backward(out, { seed: Tensor.fromArray(c.w.data, c.w.shape) });
    expectClose(await table.grad!.toArray(), c.grads.table!.data, { rtol: 1e-5, atol: 1e-6 }, 'table grad');
  });

  it('validates ids on the CPU with a message naming the id, its position and the vocabulary', () => {
    expect(() => checkIds([1, 2, 3, 70000], 50257)).toThrow('embedding: id 70000 at position 3 is outside the vocabulary (size 50257)');
    expect(() => checkIds(new Int32Array([0, -1]), 10)).toThrow('embedding: id -1 at position 1 is outside the vocabulary (size 10)');
    expect(() => checkIds([0.5], 10, 'lookup')).toThrow('lookup: id 0.5 at position 0 is not an integer');
    expect(() => checkIds([0, 9], 10)).not.toThrow();
  });

  it('clamps out-of-range ids in the kernel instead of reading out of bounds', async () => {
    const table = Tensor.fromArray([1, 2, 3, 4, 5, 6], [3, 2]);
    const ids = Tensor.fromArray([70000, -5, 1], [3], 'i32');
    expect(Array.from(await embedding(table, ids).toArray())).toEqual([5, 6, 1, 2, 3, 4]);
  });

  it('rejects non-i32 ids and non-2-D tables, naming the shapes', () => {
    const table = Tensor.fromArray([1, 2, 3, 4], [2, 2]);
    expect(() => embedding(table, Tensor.fromArray([0, 1], [2]))).toThrow('embedding: indices must be an i32 tensor, got f32[2]');
    expect(() => embedding(Tensor.fromArray([1, 2]), Tensor.fromArray([0], [1], 'i32'))).toThrow('embedding: the table must be 2-D [vocab, dim], got [2]');
  });
});

describe('gather (take along an axis)', () => {
  it('takes along every axis of strided views with strided indices', async () => {
    const random = rng(2);
    const x = randomArray(5 * 6 * 7, random);
    const xt = Tensor.fromArray(x, [5, 6, 7]);
    const xT = transpose(xt, 0, 2); // [7, 6, 5], non-contiguous
    const xTRef = refTensor([7, 6, 5]);
    for (let i = 0; i < xTRef.data.length; i++) {
      const a = Math.floor(i / 30), b = Math.floor(i / 5) % 6, c = i % 5;
      xTRef.data[i] = x[c * 42 + b * 7 + a]!;
    }
    const rawIds = [4, 0, 2, 2, 1, 3, 0, 4];
    const all = Tensor.fromArray(rawIds, [8], 'i32');
    const every2 = slice(all, 0, 0, 8, 2); // [4, 2, 1, 0], stride 2
    for (let axis = 0; axis < 3; axis++) {
      const out = gather(xT, axis, every2);
      const ref = refTake(xTRef, axis, refTensor([4], [4, 2, 1, 0]));
      expect(out.shape).toEqual(ref.shape);
      expectClose(await out.toArray(), ref.data, { rtol: 0, atol: 0 }, `axis ${axis}`);
    }
    const idx2 = Tensor.fromArray([1, 0, 3, 3, 2, 1], [2, 3], 'i32');
    const out = gather(xT, -1, idx2);
    expect(out.shape).toEqual([7, 6, 2, 3]);
    expectClose(await out.toArray(), refTake(xTRef, 2, refTensor([2, 3], [1, 0, 3, 3, 2, 1])).data, { rtol: 0, atol: 0 }, '2-D index');
  });

  it('gathers i32 tensors too', async () => {
    const x = Tensor.fromArray([10, 11, 12, 13], [4], 'i32');
    const out = gather(x, 0, Tensor.fromArray([3, 3, 0], [3], 'i32'));
    expect(out.dtype).toBe('i32');
    expect(Array.from(await out.toArray())).toEqual([13, 13, 10]);
  });

  it('differentiates x along a middle axis (gradcheck)', async () => {
    const index = [2, 0, 2, 3, 2];
    const idx = Tensor.fromArray(index, [5], 'i32');
    const report = await gradcheck({
      name: 'gather axis 1',
      inputs: [{ shape: [2, 4, 3] }],
      gpu: ([x]) => gather(x!, 1, idx),
      ref: ([x]) => refTake(x!, 1, refTensor([5], index)),
    });
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });
});

describe('scatterAdd', () => {
  it('matches the reference on repeated, empty and large index sets', async () => {
    const random = rng(3);
    const cases: { shape: number[]; axis: number; idShape: number[] }[] = [
      { shape: [9, 5], axis: 0, idShape: [4, 3] },
      { shape: [3, 6, 5], axis: 1, idShape: [11] },
      { shape: [4, 7], axis: 1, idShape: [0] },
      { shape: [5000, 64], axis: 0, idShape: [300] },
    ];
    for (const { shape, axis, idShape } of cases) {
      const ids = randomIds(numel(idShape), shape[axis]!, random);
      if (ids.length > 2) ids[ids.length - 1] = ids[0]!; // at least one repeat
      const vShape = [...shape.slice(0, axis), ...idShape, ...shape.slice(axis + 1)];
      const values = randomArray(numel(vShape), random);
      const out = scatterAdd(shape, Tensor.fromArray(ids, idShape, 'i32'), Tensor.fromArray(values, vShape), axis);
      const ref = refScatterAdd(shape, axis, refTensor(idShape, ids), refTensor(vShape, values));
      expectClose(await out.toArray(), ref.data, { rtol: 1e-5, atol: 1e-5 }, `scatterAdd ${shape} axis ${axis}`);
    }
  });

  it('is deterministic: the same inputs give bit-identical sums', async () => {
    const random = rng(4);
    const ids = Tensor.fromArray(randomIds(512, 8, random), [512], 'i32');
    const values = Tensor.fromArray(randomArray(512 * 3, random), [512, 3]);
    const a = await scatterAdd([8, 3], ids, values).toArray();
    const b = await scatterAdd([8, 3], ids, values).toArray();
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('differentiates the values (gradcheck)', async () => {
    const index = [1, 1, 0, 3];
    const idx = Tensor.fromArray(index, [4], 'i32');
    const report = await gradcheck({
      name: 'scatterAdd',
      inputs: [{ shape: [4, 2] }],
      gpu: ([v]) => scatterAdd([5, 2], idx, v!),
      ref: ([v]) => refScatterAdd([5, 2], 0, refTensor([4], index), v!),
    });
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });

  it('names the shapes when values do not fit', () => {
    const idx = Tensor.fromArray([0, 1], [2], 'i32');
    expect(() => scatterAdd([4, 3], idx, Tensor.fromArray(new Float32Array(6), [3, 2]))).toThrow(
      'scatterAdd: values of shape [3, 2] do not match target [4, 3] indexed on axis 0 by [2] (expected [2, 3])',
    );
  });
});
