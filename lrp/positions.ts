/**
 * Relevance per position of an input tensor: x ⊙ grad summed over every axis except the one that
 * indexes positions. Which axis that is, the tap says (`TapInfo.positionAxis`): a PE family
 * declares it where it taps its tensor, so explain() assumes no layout. Default: rank − 2, the
 * `[…, T, D]` of embeddings, additive tables and rotary cos/sin.
 */
import { mul } from '../autograd/ops/elementwise.js';
import { sum } from '../autograd/ops/reduce.js';
import { reshape } from '../autograd/ops/view.js';
import { wrap } from '../autograd/ops/wrap.js';
import { noGrad } from '../autograd/graph.js';
import { reduceProduct } from '../kernels/reduce.js';
import type { Tensor } from '../autograd/tensor.js';
import type { TapInfo } from '../nn/taps.js';

/** x ⊙ grad per position, as a [positions] tensor; null when no gradient reached `t`. */
export function relevancePerPosition(t: Tensor, info: TapInfo = {}): Tensor | null {
  const grad = t.grad;
  if (!grad) return null;
  if (t.rank < 2 && info.positionAxis === undefined) return reshape(mul(t, grad), [-1]);
  const axis = info.positionAxis ?? t.rank - 2;
  const positionAxis = axis < 0 ? axis + t.rank : axis;
  if (positionAxis < 0 || positionAxis >= t.rank) throw new Error(`positional tensor ${t.toString()}: position axis ${axis} is out of range`);
  const others = t.shape.map((_, i) => i).filter((i) => i !== positionAxis);
  if (others.length === 0) return mul(t, grad);
  // One kernel for the product and the sum where both are f32 (not recorded: a read-out).
  if (t.dtype === 'f32' && grad.dtype === 'f32') return noGrad(() => reshape(wrap(reduceProduct(t, grad, others, false)), [-1]));
  return reshape(sum(mul(t, grad), others), [-1]);
}
