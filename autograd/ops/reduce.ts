/** Reductions with their backward: sum, mean, max, min, var; argmax (no gradient). */
import { reduce, reducedShape, type ReduceOp } from '../../kernels/reduce.js';
import { normalizeAxis } from '../../kernels/shape.js';
import { defineOp, type OpFn } from '../op.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';
import { expand, reshape } from './view.js';
import { mul, sub, scale, eq, div } from './elementwise.js';

declare module '../opTypes.js' {
  interface OpAttrs {
    /** `sum`'s attributes. */
    sum: ReduceAttrs;
    /** `mean`'s attributes. */
    mean: ReduceAttrs;
    /** `max`'s attributes. */
    max: ReduceAttrs;
    /** `min`'s attributes. */
    min: ReduceAttrs;
    /** `var`'s attributes (`correction`: 0 population, 1 sample variance). */
    var: ReduceAttrs;
    /** `argmax`'s attributes. */
    argmax: ReduceAttrs;
  }
}

/** The attributes of a reduction. */
export interface ReduceAttrs {
  /** The reduced axes, normalised (non-negative, sorted). */
  axes: number[];
  /** Whether reduced axes stay as size-1 dimensions. */
  keepDim: boolean;
  /** Bessel's correction for `var` (divides by n − correction); 0 for other reductions. */
  correction: number;
}

/** The gradient of a reduced tensor, broadcast back to the input's shape. */
function broadcastBack(g: Tensor, inputShape: readonly number[], attrs: ReduceAttrs): Tensor {
  const kept = reshape(g, reducedShape(inputShape, attrs.axes, true));
  return expand(kept, inputShape);
}

function reduceFn(op: ReduceOp) {
  return ([x]: readonly Tensor[], a: ReduceAttrs): Tensor => wrap(reduce(op, x!, a.axes, a.keepDim, a.correction));
}

const sumOp = defineOp({
  name: 'sum',
  role: 'sum',
  forward: reduceFn('sum'),
  backward: (ctx, g) => [broadcastBack(g, ctx.inputs[0]!.shape, ctx.attrs)],
});

const meanOp = defineOp({
  name: 'mean',
  role: 'sum',
  forward: reduceFn('mean'),
  backward: (ctx, g) => {
    const x = ctx.inputs[0]!;
    const n = x.size / Math.max(ctx.output.size, 1);
    return [scale(broadcastBack(g, x.shape, ctx.attrs), 1 / n)];
  },
});

/** max/min: the gradient goes to every element equal to the extreme (ties share it, as in NumPy-style masks). */
function extremeBackward(ctx: { inputs: readonly Tensor[]; output: Tensor; attrs: ReduceAttrs }, g: Tensor): Tensor[] {
  const x = ctx.inputs[0]!;
  const extreme = broadcastBack(ctx.output, x.shape, ctx.attrs);
  const mask = eq(x, extreme);
  const count = broadcastBack(wrap(reduce('sum', mask, ctx.attrs.axes, ctx.attrs.keepDim)), x.shape, ctx.attrs);
  return [mul(div(mask, count), broadcastBack(g, x.shape, ctx.attrs))];
}

const maxOp = defineOp({ name: 'max', role: 'nonlinear', forward: reduceFn('max'), backward: (ctx, g) => extremeBackward(ctx, g) });
const minOp = defineOp({ name: 'min', role: 'nonlinear', forward: reduceFn('min'), backward: (ctx, g) => extremeBackward(ctx, g) });

const varOp = defineOp({
  name: 'var',
  role: 'nonlinear',
  forward: reduceFn('var'),
  backward: (ctx, g) => {
    // d var / dx = 2 (x - mean) / (n - correction)
    const x = ctx.inputs[0]!;
    const n = x.size / Math.max(ctx.output.size, 1);
    const mean = broadcastBack(wrap(reduce('mean', x, ctx.attrs.axes, ctx.attrs.keepDim)), x.shape, ctx.attrs);
    const centered = sub(x, mean);
    return [mul(scale(centered, 2 / Math.max(n - ctx.attrs.correction, 0)), broadcastBack(g, x.shape, ctx.attrs))];
  },
});

const argmaxOp = defineOp({
  name: 'argmax',
  role: 'structural',
  forward: reduceFn('argmax'),
  backward: () => [null],
});

function axesOf(op: string, x: Tensor, axis: number | readonly number[] | undefined): number[] {
  if (axis === undefined) return x.shape.map((_, i) => i);
  const list = typeof axis === 'number' ? [axis] : [...axis];
  const norm = list.map((a) => normalizeAxis(op, a, x.rank));
  if (new Set(norm).size !== norm.length) throw new Error(`${op}: repeated axis in [${list.join(', ')}]`);
  return norm.sort((a, b) => a - b);
}

function reducer(op: string, fn: OpFn<ReduceAttrs>) {
  return (x: Tensor, axis?: number | readonly number[], keepDim = false): Tensor =>
    fn([x], { axes: axesOf(op, x, axis), keepDim, correction: 0 });
}

/** Sum over `axis` (all axes when omitted). */
export const sum = reducer('sum', sumOp);
/** Mean over `axis` (all axes when omitted). */
export const mean = reducer('mean', meanOp);
/** Maximum over `axis` (all axes when omitted); the gradient is split equally among tied maxima. */
export const max = reducer('max', maxOp);
/** Minimum over `axis` (all axes when omitted); the gradient is split equally among tied minima. */
export const min = reducer('min', minOp);

/** Variance over `axis`; `correction` 0 is the population variance (PyTorch's unbiased=False). */
export function variance(x: Tensor, axis?: number | readonly number[], keepDim = false, correction = 0): Tensor {
  return varOp([x], { axes: axesOf('var', x, axis), keepDim, correction });
}

/** Index of the maximum along one axis, as i32 (the first one on ties). */
export function argmax(x: Tensor, axis = -1, keepDim = false): Tensor {
  return argmaxOp([x], { axes: axesOf('argmax', x, axis), keepDim, correction: 0 });
}
