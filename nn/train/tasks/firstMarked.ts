/**
 * Learned absolute positions (GPT-2): "which of the two marked tokens, X or Y, comes first?"
 * Twelve tokens (letters, one X, one Y), then `?`. Ground truth: both markers' positions; the
 * evidence is both token (which marker) and position (which is earlier).
 */
import type { Rng } from '../rng.js';
import type { Example, Task } from './types.js';
import { indexer, LETTERS } from './vocab.js';

const LENGTH = 12;
const vocab = ['[UNK]', ...LETTERS, 'X', 'Y', '?'];
const id = indexer(vocab);

export const firstMarked: Task = {
  name: 'first-marked',
  description: 'which of the two markers X and Y comes first (answered at the final "?")',
  positional: 'learned',
  vocab,
  prependCls: false,
  config: {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    n_embd: 48,
    n_inner: 96,
    n_layer: 2,
    n_head: 4,
    n_positions: 16,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
  },
  training: { steps: 1200, batchSize: 64, learningRate: 3e-3, warmupSteps: 100, weightDecay: 0.01, clipNorm: 1, initStd: 0.05, trainSize: 20000, heldoutSize: 512, evalEvery: 100, stopAccuracy: 0.99, seed: 2 },
  generate(rng: Rng): Example {
    const words = Array.from({ length: LENGTH }, () => rng.pick(LETTERS));
    const x = rng.int(LENGTH);
    let y = rng.int(LENGTH - 1);
    if (y >= x) y++;
    words[x] = 'X';
    words[y] = 'Y';
    const ids = [...words, '?'].map(id);
    return { ids, label: id(x < y ? 'X' : 'Y'), groundTruth: { positions: x < y ? [x, y] : [y, x], evidence: 'both' } };
  },
};
