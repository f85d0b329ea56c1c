/**
 * Indexing ops: `embedding` (row lookup), `gather` (NumPy take along one axis) and their adjoint
 * `scatterAdd`. Each one's backward is the other: take ↔ scatter-add.
 *
 * Indices live on the GPU, so they cannot be checked there cheaply: callers validate on the CPU
 * with `checkIds` before uploading. The kernels clamp, so a bad id reads a wrong row, never
 * out-of-bounds memory.
 */
import { scatterAdd as scatterAddKernel, take } from '../../kernels/gather.js';
import { normalizeAxis, shapeToString } from '../../kernels/shape.js';
import { defineOp } from '../op.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';

declare module '../opTypes.js' {
  interface OpAttrs {
    /** `gather`'s axis. */
    gather: AxisAttrs;
    /** `embedding` has no attributes. */
    embedding: undefined;
    /** `scatterAdd`'s axis and output shape. */
    scatterAdd: AxisAttrs & { shape: number[] };
  }
}

/**
 * Throws unless every id is an integer in [0, vocabSize), naming the first offender:
 * `embedding: id 70000 at position 3 is outside the vocabulary (size 50257)`.
 */
export function checkIds(ids: ArrayLike<number>, vocabSize: number, op = 'embedding'): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id)) throw new Error(`${op}: id ${id} at position ${i} is not an integer`);
    if (id < 0 || id >= vocabSize) throw new Error(`${op}: id ${id} at position ${i} is outside the vocabulary (size ${vocabSize})`);
  }
}

function checkIndexTensor(op: string, index: Tensor): void {
  if (index.dtype !== 'i32') throw new Error(`${op}: indices must be an i32 tensor, got ${index.dtype}${shapeToString(index.shape)}`);
}

/** Attributes of an op that works along one axis. */
export interface AxisAttrs {
  /** The axis, normalised (non-negative). */
  axis: number;
}

const gatherOp = defineOp({
  name: 'gather',
  role: 'structural',
  forward: ([x, index], { axis }) => wrap(take(x!, axis, index!, 'gather')),
  backward: (ctx, g) => {
    const [x, index] = ctx.inputs;
    return [ctx.needsGrad[0] ? scatterAdd(x!.shape, index!, g, ctx.attrs.axis) : null, null];
  },
});

/**
 * NumPy `take(x, index, axis)`: slices of `x` along `axis` picked by the i32 `index` (any shape);
 * the result has x's shape with dim `axis` replaced by index's shape. Differentiable in `x`.
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  checkIndexTensor('gather', index);
  const a = normalizeAxis('gather', axis, x.rank);
  return gatherOp([x, index], { axis: a });
}

const embeddingOp = defineOp({
  name: 'embedding',
  role: 'structural',
  forward: ([table, ids]) => wrap(take(table!, 0, ids!, 'embedding')),
  backward: (ctx, g) => {
    const [table, ids] = ctx.inputs;
    return [ctx.needsGrad[0] ? scatterAdd(table!.shape, ids!, g, 0) : null, null];
  },
});

/**
 * Rows of `table` [V, D] for i32 `ids` of any shape: [...ids.shape, D]. Its backward scatter-adds
 * the output gradient into a zero [V, D] (repeated ids accumulate). Validate ids with `checkIds`.
 */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  if (table.rank !== 2) throw new Error(`embedding: the table must be 2-D [vocab, dim], got ${shapeToString(table.shape)}`);
  checkIndexTensor('embedding', ids);
  return embeddingOp([table, ids], undefined);
}

const scatterAddOp = defineOp({
  name: 'scatterAdd',
  role: 'structural',
  forward: ([index, values], { shape, axis }) => wrap(scatterAddKernel(shape, axis, index!, values!)),
  backward: (ctx, g) => {
    const [index] = ctx.inputs;
    return [null, ctx.needsGrad[1] ? gather(g, ctx.attrs.axis, index!) : null];
  },
});

/**
 * A zero f32 tensor of `shape` with each slice of `values` added along `axis` at the position
 * `index` names (repeated indices accumulate; deterministic, no atomics). `values` has shape
 * shape[:axis] ++ index.shape ++ shape[axis+1:]. Differentiable in `values`.
 */
export function scatterAdd(shape: readonly number[], index: Tensor, values: Tensor, axis = 0): Tensor {
  checkIndexTensor('scatterAdd', index);
  const a = normalizeAxis('scatterAdd', axis, shape.length);
  return scatterAddOp([index, values], { shape: [...shape], axis: a });
}
