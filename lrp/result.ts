/**
 * The result of an explanation, shaped exactly like the CLI's JSON contract (issue: LRP for
 * transformers). Renderers and the JSON writer consume this type and nothing else.
 */

export type MethodName = 'gi' | 'cp-lrp' | 'attnlrp' | 'pa-lrp';

/** How per-position relevance is aggregated over layers and PE parts. */
export type PositionAggregation = 'signed' | 'abs';

export interface TokenRelevance {
  /** Position of the token in the input sequence (0-based). */
  index: number;
  /** Vocabulary id (ViT: the patch index, CLS = -1). */
  id: number;
  /** The token's text as the tokenizer decodes it (or `#<id>` without a tokenizer). */
  text: string;
  /** Relevance of the token embedding: sum over hidden dims of R(E_i). */
  token: number;
  /** Relevance of the position: sum over layers and PE parts of R(PE)_i, aggregated per `positionAggregation`. */
  position: number;
  /** token + position. */
  total: number;
  /** The token's first character in the input text (text input only; absent for special tokens). */
  start?: number;
  /** One past the token's last character: the token is `text.slice(start, end)`. */
  end?: number;
}

export interface ConservationReport {
  /** Sum of all input relevance (tokens + signed positions). */
  input: number;
  /** The explained output (the target logit, or logit[target] − logit[contrast]). */
  output: number;
  /** Relevance absorbed by biases and epsilon stabilisers (output - input when nothing else leaks). */
  bias: number;
  /** |input - output| / max(|output|, tiny). */
  relativeError: number;
}

export interface LayerRelevance {
  /** Layer or block name, e.g. `layers.0.attention`. */
  name: string;
  /** Total relevance entering the layer from above (at its output). */
  in: number;
  /** Total relevance leaving the layer downwards (at its inputs). */
  out: number;
}

export interface Explanation {
  /** A built-in method's name, or a custom MethodSpec's. */
  method: MethodName | (string & {});
  target: number;
  /** The target's class label or token text, when the model has labels or a tokenizer. */
  targetText?: string;
  /** Contrastive explanations: the id whose logit is subtracted (the explained output is logit − contrastLogit). */
  contrast?: number;
  /** The contrast's class label or token text. */
  contrastText?: string;
  /** The contrast's logit. */
  contrastLogit?: number;
  /** The target's logit (with a contrast, `conservation.output` is the explained difference). */
  logit: number;
  tokens: TokenRelevance[];
  conservation: ConservationReport;
  layers: LayerRelevance[];
  /** Relevance at the module outputs asked for with `capture`, in the order asked. */
  captured?: CapturedRelevance[];
  /** Extra detail beyond the JSON contract: signed and |.| position relevance, per layer PE shares. */
  details?: ExplanationDetails;
}

export interface ExplanationDetails {
  positionAggregation: PositionAggregation;
  /** Per token, position relevance summed with signs. */
  positionSigned: number[];
  /** Per token, position relevance summed as absolute values (the PA-LRP paper's aggregation). */
  positionAbs: number[];
  /** Per PE tensor (e.g. `layers.3.rotary.cos`, `embeddings.position`): relevance per position. */
  positionalTensors: { name: string; relevance: number[] }[];
  /**
   * Per pairwise positional bias (ALiBi, `layers.ℓ.alibi`): relevance per relative distance
   * d = i − j between query and key (index d, 0..T−1), summed over heads and query positions.
   */
  positionalDistances?: { name: string; relevance: number[] }[];
  modelType: string;
  /** Which rule replaced which op's gradient, and on how many graph nodes (detach = blocked). */
  rules: { op: string; rule: string; nodes: number }[];
}

export interface CapturedRelevance {
  /** Module path, e.g. `layers.3.mlp`. */
  path: string;
  /** Shape of the module's output (e.g. [1, T, hidden]). */
  shape: number[];
  /** y ⊙ ĝ_y, element by element (row-major); all zeros when no relevance reached it. */
  relevance: number[];
  /** Σ relevance. */
  total: number;
}
