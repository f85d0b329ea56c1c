/**
 * Mistral's sliding-window attention: query i sees key j only when i − W < j ≤ i (HF's
 * `kv_idx > q_idx − sliding_window`, combined with the causal mask), i.e. its last W keys,
 * itself included. Built on the GPU from two causal masks; combined with the family's causal and
 * padding mask by the elementwise minimum (`combineMasks`), so blocked entries stay F32_MIN.
 */
import { scale } from '../../autograd/ops/elementwise.js';
import { causalMask, combineMasks, F32_MIN } from '../../autograd/ops/masks.js';
import { reshape } from '../../autograd/ops/view.js';
import type { Tensor } from '../../autograd/tensor.js';

/**
 * [1, 1, T, S] additive mask blocking keys at distance ≥ W behind the query, and future keys.
 * S > T: the T queries are the last positions of S (S − T keys cached before them).
 */
export function slidingWindowMask(T: number, window: number, S = T): Tensor {
  if (!Number.isInteger(window) || window <= 0) throw new Error(`slidingWindowMask: the window must be a positive integer, got ${window}`);
  // causalMask(T, S, S − T − W) is 0 exactly where j ≤ i + S − T − W; turn it inside out:
  // −x + F32_MIN maps 0 → F32_MIN and F32_MIN → 0 exactly in f32.
  const tooFar = causalMask(T, S, S - T - window);
  const band = scale(tooFar, -1, F32_MIN);
  const causal = causalMask(T, S);
  const out = combineMasks(band, causal);
  const shaped = reshape(out, [1, 1, T, S]);
  for (const t of [tooFar, band, causal, out]) t.dispose();
  return shaped;
}

/** `mask` limited to the window when the sequence is longer than it; `mask` itself otherwise. */
export function withSlidingWindow(mask: Tensor | null, T: number, window: number | null): Tensor | null {
  if (window === null || T <= window) return mask;
  const band = slidingWindowMask(T, window);
  if (!mask) return band;
  const combined = combineMasks(mask, band);
  band.dispose();
  return combined;
}
