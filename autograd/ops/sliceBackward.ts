/**
 * The slice's own backward, and how the sweep recognises it: a slice under its own backward
 * passes its gradient on as a window of the input's gradient (autograd/backward.ts), so the
 * windows of several slices of one tensor are assembled in one kernel. Internal: not re-exported.
 */
import { padWindow } from '../../kernels/pad.js';
import type { BackwardFn, Node } from '../graph.js';
import type { OpAttrs } from '../opTypes.js';
import { wrap } from './wrap.js';

/** Zeros of the input's shape with the gradient in the sliced window: one kernel. */
export const sliceBackward: BackwardFn<OpAttrs['slice']> = (ctx, g) => [wrap(padWindow(g, ctx.inputs[0]!.shape, ctx.attrs))];

/**
 * The window of a slice node whose backward is the slice's own (no rule replaced it), or null for
 * any other node: what the sweep keeps pending instead of padding.
 */
export function ownSliceWindow(node: Node): OpAttrs['slice'] | null {
  return node.backward === (sliceBackward as BackwardFn) ? (node.attrs as OpAttrs['slice']) : null;
}
