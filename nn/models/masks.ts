/** The additive attention mask a family needs: causal, padding, both, or none. */
import { causalMask, combineMasks, paddingMask } from '../../autograd/ops/masks.js';
import { Tensor } from '../../autograd/tensor.js';
import { reshape } from '../../autograd/ops/view.js';
import { InputError } from '../../kernels/errors.js';
import { slidingWindowMask, withSlidingWindow } from './sliding-window.js';

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

/**
 * The causal mask of a forward with a key/value cache: T new queries at positions S − T … S − 1
 * over S keys, [1, 1, T, S], limited to the last `window` keys (Mistral) when S exceeds it; null
 * when nothing is masked (one query, which sees every cached key). No padding: a cached forward
 * refuses an attention mask with zeros (generation takes one prompt).
 */
export function cachedAttentionMask(T: number, S: number, window: number | null, padding: number[][] | undefined): Tensor | null {
  if (padding?.some((row) => row.some((v) => v === 0))) throw new InputError('forward: padding (attention mask zeros) is not supported with a key/value cache');
  if (window !== null && S > window) return slidingWindowMask(T, window, S);
  if (T === 1) return null;
  const causal = causalMask(T, S);
  const out = reshape(causal, [1, 1, T, S]);
  causal.dispose();
  return out;
}

/**
 * The mask of a causal LM's forward over T new positions: causal, with padding and Mistral's
 * `window` where given; with a key/value cache (`cached` = the positions it already holds, null
 * without one), over the cached keys as well (`cachedAttentionMask`).
 */
export function decoderMask(T: number, cached: number | null, window: number | null, padding: number[][] | undefined): Tensor | null {
  if (cached !== null) return cachedAttentionMask(T, cached + T, window, padding);
  return withSlidingWindow(attentionMask(T, true, padding), T, window);
}
