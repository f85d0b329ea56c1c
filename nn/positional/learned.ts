/** Learned absolute positions (BERT, GPT-2, ViT): a table indexed by position. */
import { InputError } from '../../kernels/errors.js';
import type { Tensor } from '../../autograd/tensor.js';
import { Embedding } from '../layers/embedding.js';

/** Learned absolute positions: an embedding table indexed by position, rows 0…maxPositions−1. */
export class LearnedPositions extends Embedding {
  /** Position vectors for positions offset … offset+T−1: [T, D]. */
  positions(T: number, offset = 0): Tensor {
    if (offset + T > this.count) {
      throw new InputError(`sequence of ${offset + T} positions is longer than max_position_embeddings (${this.count})`);
    }
    return this.forward(Array.from({ length: T }, (_, i) => offset + i));
  }
}
