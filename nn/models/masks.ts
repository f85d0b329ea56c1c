/** The additive attention mask a family needs: causal, padding, both, or none. */
import { causalMask, combineMasks, paddingMask } from '../../autograd/ops/masks.js';
import { Tensor } from '../../autograd/tensor.js';
import { reshape } from '../../autograd/ops/view.js';

/**
 * Mask broadcastable to [B, 1, T, T], or null when nothing is masked. Parts are combined by
 * element-wise minimum (`combineMasks`), as HF does: an entry blocked twice stays F32_MIN instead
 * of overflowing to −∞, so a row blocked everywhere (a padded query) stays finite and uniform.
 */
export function attentionMask(T: number, causal: boolean, padding: number[][] | undefined): Tensor | null {
  const causalPart = causal ? reshape(causalMask(T, T), [1, 1, T, T]) : null;
  const needsPadding = padding?.some((row) => row.some((v) => v === 0)) ?? false;
  const paddingPart = needsPadding ? paddingMask(Tensor.fromArray(padding!.flat(), [padding!.length, T])) : null;
  if (causalPart && paddingPart) return combineMasks(causalPart, paddingPart);
  return causalPart ?? paddingPart;
}
