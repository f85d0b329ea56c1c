/**
 * Position alone decides (BERT classifier, learned positions): "is the marker `*` in the first
 * half of the twelve words?" Every sentence has exactly one marker among random letters, so no
 * token's identity carries information; ground truth: the marker's position, evidence: position.
 */
import type { Rng } from '../rng.js';
import { demoTraining, tinyBertClassifierConfig } from './tiny.js';
import type { Example, Task } from './types.js';
import { indexer, LETTERS } from './vocab.js';

const LENGTH = 12;
const vocab = ['[UNK]', '[CLS]', ...LETTERS, '*'];
const id = indexer(vocab);

export const markerHalf: Task = {
  name: 'marker-half',
  description: `whether the marker "*" is in the first or the second half of ${LENGTH} words`,
  positional: 'learned',
  vocab,
  prependCls: true,
  labels: ['first', 'second'],
  config: tinyBertClassifierConfig(['first', 'second']),
  training: demoTraining(5),
  generate(rng: Rng): Example {
    const words = Array.from({ length: LENGTH }, () => rng.pick(LETTERS));
    const at = rng.int(LENGTH);
    words[at] = '*';
    const ids = [id('[CLS]'), ...words.map(id)];
    return { ids, label: at < LENGTH / 2 ? 0 : 1, groundTruth: { positions: [at + 1], evidence: 'position' } };
  },
};
