/**
 * Learned absolute positions (GPT-2): "which of the two marked tokens, X or Y, comes first?"
 * Twelve tokens (letters, one X, one Y), then `?`. Ground truth: both markers' positions; the
 * evidence is both token (which marker) and position (which is earlier).
 */
import type { Rng } from '../rng.js';
import { demoTraining, tinyGpt2Config } from './tiny.js';
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
  config: tinyGpt2Config(),
  training: demoTraining(2),
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
