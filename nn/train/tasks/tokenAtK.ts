/**
 * Sinusoidal positions (GPT-2 with `"position_embedding_type": "sinusoidal"`): "which letter
 * stands at position 3?" Twelve letters, then `?`. Ground truth: position 3; the evidence is both
 * (the position picks the token, the token is the answer).
 */
import type { Rng } from '../rng.js';
import type { Example, Task } from './types.js';
import { indexer, LETTERS } from './vocab.js';

const K = 3;
const LENGTH = 12;
const vocab = ['[UNK]', ...LETTERS, '?'];
const id = indexer(vocab);

export const tokenAtK: Task = {
  name: 'token-at-k',
  description: `the letter at position ${K} (0-based; answered at the final "?")`,
  positional: 'sinusoidal',
  vocab,
  prependCls: false,
  config: {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    position_embedding_type: 'sinusoidal',
    n_embd: 48,
    n_inner: 96,
    n_layer: 2,
    n_head: 4,
    n_positions: 16,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
  },
  training: { steps: 1200, batchSize: 64, learningRate: 3e-3, warmupSteps: 100, weightDecay: 0.01, clipNorm: 1, initStd: 0.05, trainSize: 20000, heldoutSize: 512, evalEvery: 100, stopAccuracy: 0.99, seed: 3 },
  generate(rng: Rng): Example {
    const words = Array.from({ length: LENGTH }, () => rng.pick(LETTERS));
    const ids = [...words, '?'].map(id);
    return { ids, label: id(words[K]!), groundTruth: { positions: [K], evidence: 'both' } };
  },
};
