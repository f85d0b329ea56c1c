/**
 * explainGeneration(): greedy generation, then every generated token explained over the prompt and
 * the tokens generated before it. The explanations share one forward: causal masking makes the
 * logit at position t depend on tokens ≤ t only, so one forward with the rules bound over the final
 * sequence, and one backward per generated token (seeded at its position), give exactly what a
 * separate explain() of each prefix gives.
 */
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import { InputError } from '../kernels/errors.js';
import type { TransformerModel } from '../nn/models/types.js';
import type { TokenSpan } from '../nn/tokenizer.js';
import { explainRecorded, methodOf, type ExplainInput, type ExplainOptions, type PositionTarget } from './explain.js';
import { assertFiniteLogits, locateNonFiniteForward } from './finite.js';
import type { Explanation, MethodName } from './result.js';

/** What explainGeneration() takes: explain()'s options without a target (each step's is its generated token). */
export interface GenerationOptions extends Omit<ExplainOptions, 'target' | 'contrast' | 'capture' | 'tokenTexts'> {
  /** How many tokens to generate greedily (at least 1). */
  maxNewTokens: number;
  /**
   * Progress, for bars: `done` of `total` = 2·maxNewTokens units (a generation forward, the
   * explaining forward, then one backward per generated token).
   */
  onProgress?: (done: number, total: number) => void;
  /** Generate with the model's key/value cache (default true; see `GreedyOptions.kvCache`). */
  kvCache?: boolean;
}

/** One token of a sequence: its id, its text, and its characters in the prompt text (text input). */
export interface SequenceToken {
  /** Position in the sequence (0-based). */
  index: number;
  /** Vocabulary id. */
  id: number;
  /** The token's text as the tokenizer decodes it (or `#<id>` without a tokenizer). */
  text: string;
  /** The token's first character in the prompt text (text prompts only; absent for generated and special tokens). */
  start?: number;
  /** One past the token's last character. */
  end?: number;
}

/** A generation, explained step by step. */
export interface GenerationExplanation {
  /** The method's name (built-in or a custom MethodSpec's). */
  method: MethodName | (string & {});
  /** The prompt's tokens. */
  prompt: SequenceToken[];
  /** The generated tokens, in order; token k sits at position `prompt.length + k`. */
  generated: SequenceToken[];
  /**
   * One explanation per generated token: step k explains generated token k (its `target`) from the
   * logits at position `prompt.length + k − 1`, over the prompt and generated tokens 0..k−1
   * (`tokens` has prompt.length + k entries), with its own conservation ledger.
   */
  steps: Explanation[];
}

function tokenText(model: TransformerModel, id: number): string {
  return model.tokenizer ? model.tokenizer.tokenText(id) : `#${id}`;
}

/** The prompt as ids and, for text, each token's characters. */
function promptIds(model: TransformerModel, prompt: ExplainInput): { ids: number[]; spans?: (TokenSpan | undefined)[] } {
  if ('text' in prompt && prompt.text !== undefined) {
    if ('ids' in prompt) throw new InputError('explainGeneration: give text or ids, not both');
    if (typeof prompt.text !== 'string' || prompt.text.trim() === '') throw new InputError('explainGeneration: the prompt text is empty');
    if (!model.tokenizer) throw new InputError("explainGeneration: a text prompt needs the model's tokenizer (tokenizer.json beside the weights); pass ids instead");
    const encoded = model.tokenizer.encode(prompt.text);
    if (encoded.ids.length === 0) throw new InputError('explainGeneration: the tokenizer produced no tokens');
    return { ids: encoded.ids, spans: encoded.spans };
  }
  const rows = 'ids' in prompt ? prompt.ids : undefined;
  if (!rows || rows.length !== 1) throw new InputError(`explainGeneration: give one prompt (ids [1][T] or text), got ${rows ? `a batch of ${rows.length}` : 'none'}`);
  const ids = rows[0]!;
  if (ids.length === 0) throw new InputError('explainGeneration: the prompt is empty (no token ids)');
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= model.info.vocabSize) {
      throw new InputError(`explainGeneration: id ${id} at position ${i} is outside the vocabulary (size ${model.info.vocabSize})`);
    }
  });
  return { ids: [...ids] };
}

/** Options of `generateGreedy`. */
export interface GreedyOptions {
  /**
   * Reuse keys and values across steps (default true, where the model offers a cache): the prompt
   * runs once, then each step runs the newest token alone. False re-runs the whole sequence per
   * token (the reference the cache is tested and benchmarked against).
   */
  kvCache?: boolean;
}

/** The argmax of one row of logits (the first on ties). */
function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Greedy decoding: `count` tokens, each the argmax of the logits at the last position, by forwards
 * without a graph: with the model's key/value cache, the prompt once and then one token per step;
 * without, the whole sequence per token. Returns the generated ids (not the prompt).
 */
export async function generateGreedy(
  model: TransformerModel,
  prompt: readonly number[],
  count: number,
  onToken?: () => void,
  options: GreedyOptions = {},
): Promise<number[]> {
  const sequence = [...prompt];
  const generated: number[] = [];
  if (count <= 0) return generated;
  const cache = options.kvCache === false ? null : (model.kvCache?.(prompt.length + count - 1) ?? null);
  try {
    for (let k = 0; k < count; k++) {
      // With the cache, step k > 0 feeds only the token generated last.
      const input = { ids: [cache && k > 0 ? [sequence[sequence.length - 1]!] : sequence] };
      const forwardOptions = cache ? { lastPositionOnly: true, cache } : { lastPositionOnly: true };
      const logits = noGrad(() => tidy(() => model.forward(input, forwardOptions)));
      const values = await logits.toArray();
      logits.dispose();
      // A non-finite row is located by a full forward of the sequence so far (without the cache).
      await assertFiniteLogits(values, () => locateNonFiniteForward(model, { ids: [[...sequence]] }));
      const best = argmax(values);
      sequence.push(best);
      generated.push(best);
      onToken?.();
    }
  } finally {
    cache?.dispose();
  }
  return generated;
}

/**
 * Generates `maxNewTokens` tokens greedily and explains each one: relevance over the prompt and
 * the tokens generated before it, per token and per position as explain() gives, with a
 * conservation ledger per step. Causal LMs only (a classifier is refused with an InputError).
 *
 * Cost: N − 1 forwards without a graph to generate (the N-th token comes from the explaining
 * forward; with the model's key/value cache, the prompt once and then one token per forward), one
 * forward with the rules bound over the final sequence (never cached: its graph reaches every
 * position), and N backwards over that one graph, instead of N forwards with rules (one per
 * prefix) and N backwards.
 *
 * @example
 * ```ts
 * import { init, loadModel, explainGeneration } from 'transformer-lrp';
 *
 * await init();
 * const model = await loadModel('models/marker-copy');
 * const g = await explainGeneration(model, { ids: [[1, 5, 7, 2]] }, { method: 'attnlrp', maxNewTokens: 3 });
 * for (const step of g.steps) console.log(step.targetText ?? step.target, step.tokens.map((t) => t.total));
 * model.dispose();
 * ```
 */
export async function explainGeneration(model: TransformerModel, prompt: ExplainInput, options: GenerationOptions): Promise<GenerationExplanation> {
  if (model.info.kind !== 'causal-lm') {
    throw new InputError(`explainGeneration: ${model.info.architecture} is a ${model.info.kind}, not a causal language model; only causal LMs generate`);
  }
  const N = options.maxNewTokens;
  if (!Number.isSafeInteger(N) || N < 1) throw new InputError(`explainGeneration: maxNewTokens must be an integer >= 1, got ${String(N)}`);
  methodOf(options); // a bad method or ε is refused before anything runs
  const { ids, spans } = promptIds(model, prompt);
  const P = ids.length;
  // The explaining forward runs over the prompt and the first N − 1 generated tokens.
  if (P + N - 1 > model.info.maxPositions) {
    throw new InputError(
      `explainGeneration: ${P} prompt tokens + ${N} new tokens need ${P + N - 1} positions, more than max_position_embeddings (${model.info.maxPositions})`,
    );
  }
  // Options that name one prediction do not apply (a JS caller may pass them anyway): dropped.
  const { maxNewTokens: _n, onProgress, kvCache, ...rest } = options as GenerationOptions & Partial<Pick<ExplainOptions, 'target' | 'contrast' | 'capture' | 'tokenTexts'>>;
  const { target: _t, contrast: _c, capture: _k, tokenTexts: _x, ...explainOptions } = rest;
  let done = 0;
  const tick = (): void => onProgress?.(++done, 2 * N);
  const first = await generateGreedy(model, ids, N - 1, tick, kvCache === undefined ? {} : { kvCache });
  const sequence = [...ids, ...first];
  // Step k reads the logits at position P − 1 + k; the last step's target is that row's argmax,
  // the N-th generated token (the explaining forward computes the same logits as generation).
  const requests: PositionTarget[] = first.map((target, k) => ({ position: P - 1 + k, target }));
  requests.push({ position: P + N - 2 });
  const steps = await explainRecorded(model, { ids: [sequence] }, explainOptions, requests, tick);
  const generated = [...first, steps[N - 1]!.target];
  // Prompt tokens keep their characters in the prompt text (explain() adds them for text input).
  const withSpans = spans
    ? steps.map((step) => ({
        ...step,
        tokens: step.tokens.map((t) => {
          const span = t.index < P ? spans[t.index] : undefined;
          return span ? { ...t, start: span.start, end: span.end } : t;
        }),
      }))
    : steps;
  const token = (id: number, index: number): SequenceToken => {
    const span = index < P ? spans?.[index] : undefined;
    const t: SequenceToken = { index, id, text: tokenText(model, id) };
    return span ? { ...t, start: span.start, end: span.end } : t;
  };
  return {
    method: steps[0]!.method,
    prompt: ids.map((id, i) => token(id, i)),
    generated: generated.map((id, k) => token(id, P + k)),
    steps: withSpans,
  };
}
