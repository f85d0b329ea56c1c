/**
 * The backward of broadcasting: a gradient summed back down to the shape of the input that was
 * broadcast. Backward functions run without recording, so this calls the reduction kernel
 * directly; that keeps it free of the op modules (elementwise, view, reduce) that all need it.
 */
import { reduce } from '../../kernels/reduce.js';
import { numel, sameShape, shapeToString } from '../../kernels/shape.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';

/** Sums `g` over the dims along which `shape` was broadcast to `g.shape`; `g` itself when equal. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  const kept = g.shape.filter((_, i) => !axes.includes(i));
  if (lead < 0 || axes.length === 0 || numel(kept) !== numel(shape)) {
    throw new Error(`sumToShape: cannot reduce ${shapeToString(g.shape)} to ${shapeToString(shape)}`);
  }
  const summed = reduce('sum', g, axes, true);
  // The kernel's output is contiguous, so giving it the target shape is a reshape without copy.
  return wrap({ ...summed, shape: [...shape] });
}
