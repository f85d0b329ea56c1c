/**
 * BERT classifier: a small sentiment grammar. Eight words of filler with exactly one sentiment
 * word; "not" directly before it flips it; a stray "not" elsewhere (30 % of sentences) does not.
 * Ground truth: the sentiment word, and the negation when it applies; evidence: tokens.
 */
import type { Rng } from '../rng.js';
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
  config: {
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
    id2label: { '0': 'negative', '1': 'positive' },
    label2id: { negative: 0, positive: 1 },
  },
  training: { steps: 1200, batchSize: 64, learningRate: 3e-3, warmupSteps: 100, weightDecay: 0.01, clipNorm: 1, initStd: 0.05, trainSize: 20000, heldoutSize: 512, evalEvery: 100, stopAccuracy: 0.99, seed: 4 },
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
