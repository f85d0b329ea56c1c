/** What every model family offers: a module tree with HF names, its description, and forward. */
import { InputError } from '../../kernels/errors.js';
import type { Tensor } from '../../autograd/tensor.js';
import type { Module } from '../module.js';
import type { TextTokenizer } from '../tokenizer.js';

export type ModelKind = 'causal-lm' | 'classifier';
export type PositionalKind = 'learned' | 'sinusoidal' | 'rotary' | 'alibi';

export interface ModelInfo {
  /** `model_type` from config.json (llama, qwen2, qwen3, mistral, bloom, gpt2, bert, vit). */
  modelType: string;
  /** The HF architecture class this family implements. */
  architecture: string;
  kind: ModelKind;
  positional: PositionalKind;
  /** Vocabulary size (ViT: 0, its input is pixels). */
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  maxPositions: number;
  /** Classifiers: class count and names. */
  numLabels?: number;
  labels?: string[];
  /** ViT: expected image side and channels. */
  image?: { size: number; patch: number; channels: number };
}

export interface ModelInput {
  /** Token ids, [B][T] with equal lengths. */
  ids?: number[][];
  /** BERT segment ids, [B][T]; zeros when omitted. */
  tokenTypeIds?: number[][];
  /** 1 = attend, 0 = padding, [B][T]; all ones when omitted. */
  attentionMask?: number[][];
  /** ViT pixels, normalised, [B, C, H, W] row-major. */
  pixelValues?: { data: Float32Array; shape: [number, number, number, number] };
}

export interface ForwardOptions {
  /** Causal LMs: compute logits of the last position only ([B, V]). */
  lastPositionOnly?: boolean;
  /**
   * Causal LMs: compute logits at these positions only, [B, n, V] in the order given, each
   * position's row by its own head product (what `lastPositionOnly` does for the last one).
   */
  logitPositions?: readonly number[];
  /**
   * With `logitPositions`: receives each position's logits [B, V] (the i-th of the list) as the
   * graph computes them, so that a backward from one position's logits runs through that
   * position's head only, not through every position's.
   */
  onLogitRow?: (index: number, logits: Tensor) => void;
}

export interface TransformerModel extends Module {
  readonly info: ModelInfo;
  /**
   * The tokenizer beside the weights (loadModel attaches the folder's tokenizer.json when there
   * is one; set it yourself otherwise): text input, token texts and target strings use it.
   */
  tokenizer?: TextTokenizer;
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
