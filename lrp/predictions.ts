/** The most likely predictions of a forward pass, with their class labels or token texts. */
import { InputError } from '../kernels/errors.js';
import type { TransformerModel } from '../nn/models/types.js';
import { targetText } from './target.js';

/** One of the model's top predictions. */
export interface Prediction {
  /** Class or vocabulary id. */
  id: number;
  /** Class label or token text (`#id` when the model has neither labels nor a tokenizer). */
  text: string;
  /** The raw logit. */
  logit: number;
  /** softmax(logits)[id], over every class or vocabulary id. */
  probability: number;
}

/** The `k` largest logits (at most all of them), largest first; ties keep the lower id first. */
export function topPredictions(model: TransformerModel, logits: ArrayLike<number>, k: number): Prediction[] {
  if (!Number.isInteger(k) || k < 1) throw new InputError(`topPredictions: k must be an integer >= 1, got ${k}`);
  const values = Array.from(logits);
  // Softmax with the max subtracted, in float64: large logits do not overflow.
  // (A loop, not Math.max(...values): a 150k vocabulary is too many arguments.)
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  let total = 0;
  for (const v of values) total += Math.exp(v - max);
  return values
    .map((logit, id) => ({ id, logit }))
    .sort((a, b) => b.logit - a.logit || a.id - b.id)
    .slice(0, k)
    .map(({ id, logit }) => ({ id, text: targetText(model, id) ?? `#${id}`, logit, probability: Math.exp(logit - max) / total }));
}
