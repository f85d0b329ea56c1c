/**
 * Additive attention masks (constants, no gradient): 0 where attention is allowed, F32_MIN (HF's
 * `torch.finfo(float32).min`) where it is not. Added to attention scores before the softmax.
 */
import { causalMask as causalMaskKernel, F32_MIN } from '../../kernels/fill.js';
import { shapeToString } from '../../kernels/shape.js';
import type { Tensor } from '../tensor.js';
import { full } from './creation.js';
import { minimum, where } from './elementwise.js';
import { reshape } from './view.js';
import { wrap } from './wrap.js';

export { F32_MIN };

/**
 * [T, S] causal mask: query i may attend to key j when j ≤ i + offset. With S − T cached keys
 * before the current T queries (the default offset), query i sits at absolute position i + S − T.
 */
export function causalMask(T: number, S = T, offset = S - T): Tensor {
  for (const [name, v] of [['T', T], ['S', S]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`causalMask: ${name} must be a non-negative integer, got ${v}`);
  }
  if (!Number.isInteger(offset)) throw new Error(`causalMask: offset must be an integer, got ${offset}`);
  return wrap(causalMaskKernel(T, S, offset));
}

/**
 * [B, 1, 1, S] mask from an HF-style attention mask [B, S] (i32 or f32; nonzero = a real token,
 * 0 = padding), broadcasting over heads and queries.
 */
export function paddingMask(attentionMask: Tensor): Tensor {
  if (attentionMask.rank !== 2) throw new Error(`paddingMask: the attention mask must be [batch, keys], got ${shapeToString(attentionMask.shape)}`);
  const [B, S] = attentionMask.shape as [number, number];
  const zero = full([], 0);
  const blocked = full([], F32_MIN);
  const mask = where(attentionMask, zero, blocked);
  const out = reshape(mask, [B, 1, 1, S]);
  for (const t of [zero, blocked, mask]) t.dispose();
  return out;
}

/**
 * Combines additive masks by broadcasting (e.g. causal [T, S] with padding [B, 1, 1, S] gives
 * [B, 1, T, S]). Takes the elementwise minimum rather than the sum, so two blocked entries stay
 * F32_MIN instead of overflowing to −∞.
 */
export function combineMasks(...masks: Tensor[]): Tensor {
  if (masks.length === 0) throw new Error('combineMasks: needs at least one mask');
  let out = minimum(masks[0]!, masks[0]!);
  for (const m of masks.slice(1)) {
    const next = minimum(out, m);
    out.dispose();
    out = next;
  }
  return out;
}
