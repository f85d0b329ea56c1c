/** What every model family offers: a module tree with HF names, its description, and forward. */
import { InputError } from '../../kernels/errors.js';
import type { Tensor } from '../../autograd/tensor.js';
import type { KvCache } from '../layers/kv-cache.js';
import type { Module } from '../module.js';
import type { TextTokenizer } from '../tokenizer.js';

/** What a model predicts: next-token logits (`causal-lm`) or class logits (`classifier`). */
export type ModelKind = 'causal-lm' | 'classifier';
/**
 * How a model encodes position: learned absolute embeddings, fixed sinusoids, rotary rotations of q and k, or ALiBi biases on the attention scores.
 */
export type PositionalKind = 'learned' | 'sinusoidal' | 'rotary' | 'alibi';

/** What a loaded model is: its family, sizes and positional encoding, read from config.json. */
export interface ModelInfo {
  /** `model_type` from config.json (llama, qwen2, qwen3, mistral, bloom, gpt2, bert, vit). */
  modelType: string;
  /** The HF architecture class this family implements. */
  architecture: string;
  /** Causal LM or classifier. */
  kind: ModelKind;
  /** How the model encodes position (explanations report the positional share by it). */
  positional: PositionalKind;
  /** Vocabulary size (ViT: 0, its input is pixels). */
  vocabSize: number;
  /** Model width. */
  hidden: number;
  /** Transformer blocks. */
  layers: number;
  /** Attention (query) heads per block. */
  heads: number;
  /** Key/value heads per block (fewer than `heads` with grouped-query attention). */
  kvHeads: number;
  /** Longest sequence the model accepts (ViT: patches + 1). */
  maxPositions: number;
  /** Classifiers: class count and names. */
  numLabels?: number;
  /** Class names by id (`id2label`), for classifiers. */
  labels?: string[];
  /** ViT: expected image side and channels. */
  image?: {
    /** Side of the square input, in pixels (`image_size`). */
    size: number;
    /** Side of a patch, in pixels (`patch_size`). */
    patch: number;
    /** Colour channels (`num_channels`). */
    channels: number;
  };
}

/** A batch for `forward`: token ids for text models, pixel values for ViT. */
export interface ModelInput {
  /** Token ids, [B][T] with equal lengths. */
  ids?: number[][];
  /** BERT segment ids, [B][T]; zeros when omitted. */
  tokenTypeIds?: number[][];
  /** 1 = attend, 0 = padding, [B][T]; all ones when omitted. */
  attentionMask?: number[][];
  /** ViT pixels, normalised, [B, C, H, W] row-major. */
  pixelValues?: {
    /** The values, row-major. */
    data: Float32Array;
    /** [B, C, H, W]. */
    shape: [number, number, number, number];
  };
}

/**
 * The head of one logit row: what an explanation differentiates instead of the whole row, since a
 * backward from the row's V logits reads all of the [V, D] head matrix for one or two non-zero seeds.
 */
export interface LogitRowHead {
  /**
   * The normalised hidden state the row's logits were computed from, [B, 1, D]. It belongs to the
   * forward's scope: keep it (return it from your tidy) to call `logitsOf` after the forward.
   */
  readonly hidden: Tensor;
  /**
   * Records, on the graph, the logits of these vocabulary ids alone, [B, ids.length], from
   * `hidden` by products with those rows of the head only: equal to those columns of the row.
   */
  logitsOf(ids: readonly number[]): Tensor;
}

/** Options of `TransformerModel.forward`. */
export interface ForwardOptions {
  /** Causal LMs: compute logits of the last position only ([B, V]). */
  lastPositionOnly?: boolean;
  /**
   * Causal LMs: compute logits at these positions only, [B, n, V] in the order given, each
   * position's row by its own head product (what `lastPositionOnly` does for the last one).
   */
  logitPositions?: readonly number[];
  /**
   * With `logitPositions` or `lastPositionOnly`: receives each position's logits [B, V] (the i-th
   * of the list; 0 for the last position) as the graph computes them, so that a backward from one
   * position's logits runs through that position's head only, not through every position's; and
   * that position's `LogitRowHead`, to record chosen ids' logits alone after the forward.
   */
  onLogitRow?: (index: number, logits: Tensor, head: LogitRowHead) => void;
  /**
   * Causal LMs, generation only: a key/value cache (from `kvCache`). The input ids are the
   * positions after the cached ones; the forward attends over the cached keys and values, appends
   * its own, and advances the cache. A batch without padding; not for explaining forwards.
   */
  cache?: KvCache;
}

/**
 * A loaded model of any family (`loadModel` returns one): a module tree with Hugging Face names,
 * what it is (`info`), an optional tokenizer, and `forward`.
 */
export interface TransformerModel extends Module {
  /** What the model is: family, sizes, positional kind, labels. */
  readonly info: ModelInfo;
  /**
   * The tokenizer beside the weights (loadModel attaches the folder's tokenizer.json when there
   * is one; set it yourself otherwise): text input, token texts and target strings use it.
   */
  tokenizer?: TextTokenizer;
  /**
   * Causal LMs that can decode incrementally: an empty key/value cache for a generation of up to
   * `length` positions, or null when the model cannot use one exactly for that length (then
   * generation re-runs full forwards). Absent for classifiers. Dispose the cache after use.
   */
  kvCache?(length: number): KvCache | null;
  /** Causal LM: logits [B, T, V] (or [B, V]); classifier: [B, numLabels]. */
  forward(input: ModelInput, options?: ForwardOptions): Tensor;
}

/** Validates token ids for a text model and returns [B, T]. */
export function textShape(input: ModelInput, family: string): [number, number] {
  const ids = input.ids;
  if (!ids || ids.length === 0 || ids[0]!.length === 0) throw new InputError(`${family}: the input is empty (no token ids)`);
  const T = ids[0]!.length;
  if (ids.some((row) => row.length !== T)) throw new InputError(`${family}: every sequence of a batch must have the same length (pad them)`);
  for (const [name, rows] of [['attentionMask', input.attentionMask], ['tokenTypeIds', input.tokenTypeIds]] as const) {
    if (rows && (rows.length !== ids.length || rows.some((r) => r.length !== T))) {
      throw new InputError(`${family}: ${name} must have the same shape as ids [${ids.length}, ${T}]`);
    }
  }
  return [ids.length, T];
}
