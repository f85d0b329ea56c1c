/**
 * Position alone decides (BERT classifier, learned positions): "is the marker `*` in the first
 * half of the twelve words?" Every sentence has exactly one marker among random letters, so no
 * token's identity carries information; ground truth: the marker's position, evidence: position.
 */
import type { Rng } from '../rng.js';
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
    id2label: { '0': 'first', '1': 'second' },
    label2id: { first: 0, second: 1 },
  },
  training: { steps: 1200, batchSize: 64, learningRate: 3e-3, warmupSteps: 100, weightDecay: 0.01, clipNorm: 1, initStd: 0.05, trainSize: 20000, heldoutSize: 512, evalEvery: 100, stopAccuracy: 0.99, seed: 5 },
  generate(rng: Rng): Example {
    const words = Array.from({ length: LENGTH }, () => rng.pick(LETTERS));
    const at = rng.int(LENGTH);
    words[at] = '*';
    const ids = [id('[CLS]'), ...words.map(id)];
    return { ids, label: at < LENGTH / 2 ? 0 : 1, groundTruth: { positions: [at + 1], evidence: 'position' } };
  },
};
