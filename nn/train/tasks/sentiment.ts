/**
 * BERT classifier: a small sentiment grammar. Eight words of filler with exactly one sentiment
 * word; "not" directly before it flips it; a stray "not" elsewhere (30 % of sentences) does not.
 * Ground truth: the sentiment word, and the negation when it applies; evidence: tokens.
 */
import type { Rng } from '../rng.js';
import { demoTraining, tinyBertClassifierConfig } from './tiny.js';
import type { Example, Task } from './types.js';
import { indexer } from './vocab.js';

const LENGTH = 8;
const POSITIVE = ['good', 'great', 'fun', 'lovely', 'excellent'];
const NEGATIVE = ['bad', 'awful', 'boring', 'dull', 'terrible'];
const FILLER = ['the', 'movie', 'film', 'plot', 'was', 'is', 'very', 'really', 'quite', 'acting', 'story', 'it', 'this', 'and', 'a'];
const vocab = ['[UNK]', '[CLS]', 'not', ...POSITIVE, ...NEGATIVE, ...FILLER];
const id = indexer(vocab);

export const sentiment: Task = {
  name: 'sentiment',
  description: 'positive or negative: the one sentiment word decides, flipped by a "not" right before it',
  positional: 'learned',
  vocab,
  prependCls: true,
  labels: ['negative', 'positive'],
  config: tinyBertClassifierConfig(['negative', 'positive']),
  training: demoTraining(4),
  generate(rng: Rng): Example {
    const words = Array.from({ length: LENGTH }, () => rng.pick(FILLER));
    const positive = rng.next() < 0.5;
    const negated = rng.next() < 0.5;
    const at = negated ? 1 + rng.int(LENGTH - 1) : rng.int(LENGTH);
    words[at] = rng.pick(positive ? POSITIVE : NEGATIVE);
    if (negated) words[at - 1] = 'not';
    if (rng.next() < 0.3) {
      // A stray "not" that negates nothing: anywhere but right before the sentiment word.
      const free = words.map((_, i) => i).filter((i) => i !== at && i !== at - 1 && words[i] !== 'not');
      words[rng.pick(free)] = 'not';
    }
    const ids = [id('[CLS]'), ...words.map(id)];
    // +1: [CLS] is position 0.
    const positions = negated ? [at + 1, at] : [at + 1];
    return { ids, label: positive !== negated ? 1 : 0, groundTruth: { positions, evidence: 'token' } };
  },
};
