/**
 * The result of an explanation, shaped exactly like the CLI's JSON contract (issue: LRP for
 * transformers). Renderers and the JSON writer consume this type and nothing else.
 */

/** The built-in methods: gradient × input (`gi`), CP-LRP, AttnLRP and PA-LRP (docs/rules.md). */
export type MethodName = 'gi' | 'cp-lrp' | 'attnlrp' | 'pa-lrp';

/** How per-position relevance is aggregated over layers and PE parts. */
export type PositionAggregation = 'signed' | 'abs';

/** One input position's relevance: its token's, its position's and their total. */
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

/**
 * Where the explained output went (docs/rules.md, "Conservation"). Relevance at any tensor is
 * v ⊙ ĝ_v, so every op has an exact local balance; summed over the graph,
 *
 *   output = tokens + positions + biases + stabilizers + Σ softmax[].lost + constantPositional + otherOps + remainder,
 *
 * where every term except `remainder` is measured on its own and `remainder` is the float32
 * rounding of the whole measurement.
 */
export interface ConservationLedger {
  /** Σ token relevance (token and segment embeddings). */
  tokens: number;
  /** Σ signed relevance of the positional tensors that are inputs (0 when they are constants). */
  positions: number;
  /** Absorbed by bias parameters: Σ b ⊙ ĝ_b over every read of a linear bias or LayerNorm β. */
  biases: number;
  /** Absorbed by the stabilisers of the linear layers' rules (ε-, γ-, αβ-rules): Σ over linear ops of z⊙ĝ_z − x⊙ĝ_x − b⊙ĝ_b. */
  stabilizers: number;
  /**
   * Lost by each softmax that passes relevance down (AttnLRP's softmax rule, gi's gradient), per
   * attention layer from the input up: Σ s⊙ĝ_s − Σ x⊙ĝ_x (negative: a gain). Empty when the
   * softmax is detached (CP-LRP).
   */
  softmax: { name: string; lost: number }[];
  /**
   * Absorbed by positional tensors held constant (positionalInputs false, e.g. AttnLRP): what the
   * ops adding them kept, exactly what PA-LRP would give them as inputs.
   */
  constantPositional: number;
  /** Lost (or gained, negative) at every other op that does not conserve under its rule: gi's nonlinearities and products. */
  otherOps: number;
  /** Σ of the rule losses: stabilizers + Σ softmax + constantPositional + otherOps. */
  unexplained: number;
  /** output minus every term above: numerical (float32) rounding. */
  remainder: number;
}

/** How well relevance is conserved: the input and output totals and the ledger that reconciles them. */
export interface ConservationReport {
  /** Sum of all input relevance (tokens + signed positions). */
  input: number;
  /** The explained output (the target logit, or logit[target] − logit[contrast]). */
  output: number;
  /** Relevance absorbed by bias parameters (linear biases, LayerNorm β): the ledger's `biases`. */
  bias: number;
  /**
   * |ledger.remainder| / max(|output|, tiny): how well the ledger closes, i.e. the numerical error
   * of the accounting. What the rules leave unexplained is `ledger.unexplained`, beside it.
   */
  relativeError: number;
  /** Where the output went, term by term. */
  ledger: ConservationLedger;
}

/** Relevance through one layer, for checking where conservation breaks. */
export interface LayerRelevance {
  /** Layer or block name, e.g. `layers.0.attention`. */
  name: string;
  /** Total relevance entering the layer from above (at its output). */
  in: number;
  /** Total relevance leaving the layer downwards (at its inputs). */
  out: number;
}

/**
 * The result of `explain`: relevance per token and position, the conservation ledger and per-layer
 * totals; what the renderers draw and the CLI writes as JSON.
 */
export interface Explanation {
  /** A built-in method's name, or a custom MethodSpec's. */
  method: MethodName | (string & {});
  /** The explained output's id: a class (classifiers) or the next token (causal LMs). */
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
  /** One entry per input position, in order. */
  tokens: TokenRelevance[];
  /** Where the explained output went, and how exactly the accounting closes. */
  conservation: ConservationReport;
  /** Relevance in and out of each block, input side first. */
  layers: LayerRelevance[];
  /** Relevance at the module outputs asked for with `capture`, in the order asked. */
  captured?: CapturedRelevance[];
  /** Extra detail beyond the JSON contract: signed and |.| position relevance, per layer PE shares. */
  details?: ExplanationDetails;
}

/**
 * Detail beyond the JSON contract (batch records carry it with `--details`): both position
 * aggregations, relevance per positional tensor and per distance, and the rules applied.
 */
export interface ExplanationDetails {
  /** The aggregation used for `TokenRelevance.position`. */
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
  /** `model_type` of the explained model. */
  modelType: string;
  /** Which rule replaced which op's gradient, and on how many graph nodes (detach = blocked). */
  rules: { op: string; rule: string; nodes: number }[];
}

/** Relevance at one captured module output (`ExplainOptions.capture`). */
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
