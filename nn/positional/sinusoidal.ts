/** Sinusoidal absolute positions (Vaswani et al.): no parameters, a fixed table per length. */
import { InputError } from '../../kernels/errors.js';
import { sinusoidalPositions } from '../../autograd/ops/random.js';
import { slice } from '../../autograd/ops/view.js';
import type { Tensor } from '../../autograd/tensor.js';

/** Fixed sinusoidal positions: sin/cos of position · 10000^(−2i/D), no parameters. */
export class SinusoidalPositions {
  /**
   * @param maxPositions longest sequence accepted
   * @param dim embedding size D
   */
  constructor(readonly maxPositions: number, readonly dim: number) {}

  /** The table for positions offset…offset+T−1, [T, D] (a constant); throws an InputError beyond `maxPositions`. */
  positions(T: number, offset = 0): Tensor {
    const length = offset + T;
    if (length > this.maxPositions) throw new InputError(`sequence of ${length} positions is longer than max_position_embeddings (${this.maxPositions})`);
    if (offset === 0) return sinusoidalPositions(T, this.dim);
    const table = sinusoidalPositions(length, this.dim);
    const rows = slice(table, 0, offset);
    table.dispose();
    return rows;
  }
}
