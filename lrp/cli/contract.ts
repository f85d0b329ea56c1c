import type { GenerationExplanation } from '../generate.js';
import type { Explanation } from '../result.js';

/** The JSON contract: the target (and contrast) with their texts where known, tokens (with character offsets for text input), conservation, layers. */
export function jsonContract(e: Explanation): Record<string, unknown> {
  const named = { targetText: e.targetText, contrast: e.contrast, contrastText: e.contrastText, contrastLogit: e.contrastLogit };
  const known = Object.fromEntries(Object.entries(named).filter(([, v]) => v !== undefined));
  return { method: e.method, target: e.target, ...known, logit: e.logit, tokens: e.tokens, conservation: e.conservation, layers: e.layers };
}

/**
 * The JSON contract of `lrp explain --generate N`: the method, then `generation` with the prompt's
 * tokens, the generated tokens (`index`, `id`, `text`; prompt tokens of text input also `start`,
 * `end`) and `steps`, one explanation per generated token in the single-explanation contract
 * above: step k's `target` is generated token k and its `tokens` are the prompt and generated
 * tokens 0..k−1, each with its conservation ledger.
 */
export function generationContract(g: GenerationExplanation): Record<string, unknown> {
  return { method: g.method, generation: { prompt: g.prompt, generated: g.generated, steps: g.steps.map(jsonContract) } };
}
