/**
 * Sinusoidal positions (GPT-2 with `"position_embedding_type": "sinusoidal"`): "which letter
 * stands at position 3?" Twelve letters, then `?`. Ground truth: position 3; the evidence is both
 * (the position picks the token, the token is the answer).
 */
import type { Rng } from '../rng.js';
import { demoTraining, tinyGpt2Config } from './tiny.js';
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
  config: tinyGpt2Config({ position_embedding_type: 'sinusoidal' }),
  training: demoTraining(3),
  generate(rng: Rng): Example {
    const words = Array.from({ length: LENGTH }, () => rng.pick(LETTERS));
    const ids = [...words, '?'].map(id);
    return { ids, label: id(words[K]!), groundTruth: { positions: [K], evidence: 'both' } };
  },
};
