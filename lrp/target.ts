/**
 * What to explain, named the way a person names it: a vocabulary or class id, a token string
 * (causal LMs: it must be exactly one token of the model's tokenizer) or a class label
 * (classifiers: config.json's `id2label`), and the text shown for an id.
 */
import { InputError } from '../kernels/errors.js';
import type { TransformerModel } from '../nn/models/types.js';

/** An id, or a token string / class label. */
export type TargetSpec = number | string;

/**
 * The id `spec` names. Numbers are ids (range-checked against the logits by explain()); strings
 * are class labels for classifiers and single tokens for causal LMs. `what` names the option in
 * messages (`target`, `contrast`).
 */
export function resolveTarget(model: TransformerModel, spec: TargetSpec, what: string): number {
  if (typeof spec === 'number') return spec;
  if (typeof spec !== 'string') throw new InputError(`explain: ${what} must be an id or a string, got ${typeof spec}`);
  if (spec === '') throw new InputError(`explain: ${what} is an empty string`);
  const labels = model.info.labels;
  if (model.info.kind === 'classifier') {
    const index = labels?.indexOf(spec) ?? -1;
    if (index < 0) {
      throw new InputError(`explain: ${what} "${spec}" is not a class label of this model (labels: ${(labels ?? []).join(', ') || 'none'}; or give a class id)`);
    }
    return index;
  }
  const tokenizer = model.tokenizer;
  if (!tokenizer) throw new InputError(`explain: ${what} "${spec}" is text, but the model has no tokenizer (tokenizer.json); give a vocabulary id`);
  const id = tokenizer.tokenId(spec);
  if (id === undefined) {
    throw new InputError(`explain: ${what} "${spec}" does not encode to exactly one known token; give a vocabulary id or a string that is one token`);
  }
  return id;
}

/** The class label or token text of `id`, when the model knows one. */
export function targetText(model: TransformerModel, id: number): string | undefined {
  if (model.info.kind === 'classifier') return model.info.labels?.[id];
  const text = model.tokenizer?.tokenText(id);
  return text === undefined || text === `#${id}` ? undefined : text;
}
