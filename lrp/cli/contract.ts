import type { Explanation } from '../result.js';

/** The JSON contract: the target (and contrast) with their texts where known, tokens (with character offsets for text input), conservation, layers. */
export function jsonContract(e: Explanation): Record<string, unknown> {
  const named = { targetText: e.targetText, contrast: e.contrast, contrastText: e.contrastText, contrastLogit: e.contrastLogit };
  const known = Object.fromEntries(Object.entries(named).filter(([, v]) => v !== undefined));
  return { method: e.method, target: e.target, ...known, logit: e.logit, tokens: e.tokens, conservation: e.conservation, layers: e.layers };
}
