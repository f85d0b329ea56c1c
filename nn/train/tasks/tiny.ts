/**
 * What the demo tasks share: one training recipe (only the seed differs per task) and the tiny
 * GPT-2 and BERT-classifier configs (2 layers, 4 heads, width 48, 16 positions).
 */
import type { TrainingSettings } from './types.js';

export function demoTraining(seed: number): TrainingSettings {
  return { steps: 1200, batchSize: 64, learningRate: 3e-3, warmupSteps: 100, weightDecay: 0.01, clipNorm: 1, initStd: 0.05, trainSize: 20000, heldoutSize: 512, evalEvery: 100, stopAccuracy: 0.99, seed };
}

/** A tiny GPT-2 config; `positions` adds keys such as `position_embedding_type` after model_type. */
export function tinyGpt2Config(positions: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    ...positions,
    n_embd: 48,
    n_inner: 96,
    n_layer: 2,
    n_head: 4,
    n_positions: 16,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
  };
}

/** A tiny BERT sequence classifier config with these class labels (id = index). */
export function tinyBertClassifierConfig(labels: readonly string[]): Record<string, unknown> {
  return {
    architectures: ['BertForSequenceClassification'],
    model_type: 'bert',
    hidden_size: 48,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    max_position_embeddings: 16,
    type_vocab_size: 1,
    layer_norm_eps: 1e-12,
    hidden_act: 'gelu',
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  };
}
