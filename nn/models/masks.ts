/** The additive attention mask a family needs: causal, padding, both, or none. */
import { add } from '../../autograd/ops/elementwise.js';
import { causalMask, paddingMask } from '../../autograd/ops/masks.js';
import { Tensor } from '../../autograd/tensor.js';
import { reshape } from '../../autograd/ops/view.js';

/** Mask broadcastable to [B, 1, T, T], or null when nothing is masked. */
export function attentionMask(T: number, causal: boolean, padding: number[][] | undefined): Tensor | null {
  const causalPart = causal ? reshape(causalMask(T, T), [1, 1, T, T]) : null;
  const needsPadding = padding?.some((row) => row.some((v) => v === 0)) ?? false;
  const paddingPart = needsPadding ? paddingMask(Tensor.fromArray(padding!.flat(), [padding!.length, T])) : null;
  if (causalPart && paddingPart) return add(causalPart, paddingPart);
  return causalPart ?? paddingPart;
}
