/**
 * Rotary (LLaMA): "which letter stands two places after the marker `>`?" Twelve tokens (letters,
 * one `>`), then `?`; the model answers at the last position. The answer is a token picked by its
 * offset from the marker: ground truth = the answer's position and the marker's, evidence both.
 */
import type { Rng } from '../rng.js';
import { demoTraining } from './tiny.js';
import type { Example, Task } from './types.js';
import { indexer, LETTERS } from './vocab.js';

const OFFSET = 2;
const LENGTH = 12;
const vocab = ['[UNK]', ...LETTERS, '>', '?'];
const id = indexer(vocab);

export const markerCopy: Task = {
  name: 'marker-copy',
  description: `the letter ${OFFSET} places after the marker ">" (answered at the final "?")`,
  positional: 'rotary',
  vocab,
  prependCls: false,
  config: {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 48,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    max_position_embeddings: 16,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
    hidden_act: 'silu',
  },
  training: demoTraining(1),
  generate(rng: Rng): Example {
    const words = Array.from({ length: LENGTH }, () => rng.pick(LETTERS));
    const marker = rng.int(LENGTH - OFFSET);
    words[marker] = '>';
    const answer = words[marker + OFFSET]!;
    const ids = [...words, '?'].map(id);
    return { ids, label: id(answer), groundTruth: { positions: [marker + OFFSET, marker], evidence: 'both' } };
  },
};
