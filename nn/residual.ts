/**
 * The residual stream a block is about to add a sublayer's output to, while that sublayer runs
 * (`withResidual`). The sublayer's output projection reads it (`Linear.forward` with
 * `then: 'residual'`) so that its kernel also stores stream + output, which the block's own `add`
 * then takes without a dispatch (autograd `offerResult`). Only a hint: whatever the sublayer
 * returns, the block's `add` computes the same sum.
 */
import type { Tensor } from '../autograd/tensor.js';

let current: Tensor | null = null;

/** Runs `sublayer` with `stream` as the residual its output will be added to. */
export function withResidual<T>(stream: Tensor, sublayer: () => T): T {
  const previous = current;
  current = stream;
  try {
    return sublayer();
  } finally {
    current = previous;
  }
}

/** The residual of the innermost `withResidual`, taken once: the first output projection to ask gets it. */
export function takeResidual(): Tensor | null {
  const stream = current;
  current = null;
  return stream;
}
