/** Concatenation (and stacking) along an axis; the backward hands each input its slice of g. */
import { concat as concatKernel, concatShape } from '../../kernels/concat.js';
import { normalizeAxis, sameShape, shapeToString } from '../../kernels/shape.js';
import { defineOp } from '../op.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';
import { slice, unsqueeze } from './view.js';

declare module '../opTypes.js' {
  interface OpAttrs {
    /** `concat`'s axis, normalised. */
    concat: { axis: number };
  }
}

const concatOp = defineOp({
  name: 'concat',
  role: 'structural',
  forward: (inputs, { axis }) => wrap(concatKernel(inputs, axis)),
  backward: (ctx, g) => {
    let start = 0;
    return ctx.inputs.map((x, i) => {
      const size = x.shape[ctx.attrs.axis]!;
      start += size;
      return ctx.needsGrad[i] ? slice(g, ctx.attrs.axis, start - size, start) : null;
    });
  },
});

/** Joins tensors along `axis`; their shapes must agree everywhere else. */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  const { axis: a } = concatShape('concat', tensors.map((t) => t.shape), axis);
  return concatOp(tensors, { axis: a });
}

/** Joins same-shaped tensors along a new dimension `axis` (concat of unsqueezed inputs). */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new Error('stack: needs at least one tensor');
  const first = tensors[0]!.shape;
  if (tensors.some((t) => !sameShape(t.shape, first))) {
    throw new Error(`stack: shapes ${tensors.map((t) => shapeToString(t.shape)).join(', ')} differ`);
  }
  const a = normalizeAxis('stack', axis, first.length + 1);
  const parts = tensors.map((t) => unsqueeze(t, a));
  const out = concat(parts, a);
  for (const p of parts) p.dispose();
  return out;
}
