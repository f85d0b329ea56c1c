/**
 * A training task with known ground truth: a seeded generator of examples, the model it trains
 * (a Hugging Face config), its word-level vocabulary, and per example the token positions that
 * decide the answer and whether the evidence is a token, a position, or both.
 */
import type { Rng } from '../rng.js';

/** What decides an example's answer: a token's identity, its position, or both. */
export type Evidence = 'token' | 'position' | 'both';

/** Which tokens decide an example's answer, and how. */
export interface GroundTruth {
  /** Token positions (0-based, in `ids`) that decide the answer; the first is the primary one. */
  positions: number[];
  /** Whether the deciding tokens matter by identity, by position or both. */
  evidence: Evidence;
}

/** One generated example. */
export interface Example {
  /** Token ids, as the task's tokenizer encodes `text` (BERT tasks: [CLS] first). */
  ids: number[];
  /** Class id (classifiers) or the target token id (causal LMs, last position). */
  label: number;
  /** The tokens that decide the answer. */
  groundTruth: GroundTruth;
}

/** How a task is trained (each overridable in `TrainOptions.settings`). */
export interface TrainingSettings {
  /** Optimiser steps. */
  steps: number;
  /** Examples per step. */
  batchSize: number;
  /** Peak learning rate. */
  learningRate: number;
  /** Steps of linear warm-up. */
  warmupSteps: number;
  /** AdamW's decoupled weight decay. */
  weightDecay: number;
  /** Global gradient-norm clip. */
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
  /** Seeds initialisation, data and batch order. */
  seed: number;
}

/** A training task with known ground truth: a seeded example generator, the model config it trains, its vocabulary and training settings. */
export interface Task {
  /** The task's name (CLI `--task`, model folder name). */
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
  /** Default training settings. */
  training: TrainingSettings;
  /** Draws one example. */
  generate(rng: Rng): Example;
}
