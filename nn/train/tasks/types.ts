/**
 * A training task with known ground truth: a seeded generator of examples, the model it trains
 * (a Hugging Face config), its word-level vocabulary, and per example the token positions that
 * decide the answer and whether the evidence is a token, a position, or both.
 */
import type { Rng } from '../rng.js';

export type Evidence = 'token' | 'position' | 'both';

export interface GroundTruth {
  /** Token positions (0-based, in `ids`) that decide the answer; the first is the primary one. */
  positions: number[];
  evidence: Evidence;
}

export interface Example {
  /** Token ids, as the task's tokenizer encodes `text` (BERT tasks: [CLS] first). */
  ids: number[];
  /** Class id (classifiers) or the target token id (causal LMs, last position). */
  label: number;
  groundTruth: GroundTruth;
}

export interface TrainingSettings {
  steps: number;
  batchSize: number;
  learningRate: number;
  warmupSteps: number;
  weightDecay: number;
  clipNorm: number;
  /** Standard deviation of the normal initialisation of weight matrices and embeddings. */
  initStd: number;
  /** Examples in the (fixed, shuffled each epoch) training set. */
  trainSize: number;
  /** Held-out examples, generated from another seed and disjoint from the training set. */
  heldoutSize: number;
  /** Held-out accuracy is measured every this many steps (and at the end). */
  evalEvery: number;
  /** Training stops early once held-out accuracy reaches this (checked at each evaluation). */
  stopAccuracy: number;
  seed: number;
}

export interface Task {
  name: string;
  /** One sentence: the rule that decides the answer. */
  description: string;
  /** The model family's positional encoding, for the docs and the README. */
  positional: 'rotary' | 'learned' | 'sinusoidal';
  /** Word-level vocabulary; index = token id. */
  vocab: readonly string[];
  /** Hugging Face config.json (vocab_size is filled in from `vocab`). */
  config: Record<string, unknown>;
  /** Whether the tokenizer prepends [CLS] (BERT classifiers). */
  prependCls: boolean;
  /** Class names of a classifier (index = class id); absent for causal LMs. */
  labels?: readonly string[];
  training: TrainingSettings;
  generate(rng: Rng): Example;
}
