/** Sinusoidal absolute positions (Vaswani et al.): no parameters, a fixed table per length. */
import { InputError } from '../../kernels/errors.js';
import { sinusoidalPositions } from '../../autograd/ops/random.js';
import type { Tensor } from '../../autograd/tensor.js';

export class SinusoidalPositions {
  constructor(readonly maxPositions: number, readonly dim: number) {}

  positions(T: number): Tensor {
    if (T > this.maxPositions) throw new InputError(`sequence of ${T} positions is longer than max_position_embeddings (${this.maxPositions})`);
    return sinusoidalPositions(T, this.dim);
  }
}
