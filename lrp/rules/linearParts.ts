/**
 * Pieces the sign-splitting rules for `linear` (γ, αβ, z⁺) share: positive and negative parts,
 * sign masks, and the two products a rule needs — forward through modified weights, and back
 * through them (s · W' for rows s [N, out] and W' [out, in]). All run inside a backward, where
 * nothing is recorded and the enclosing tidy frees the intermediates.
 */
import { add, gt, lt, relu, sub } from '../../autograd/ops/elementwise.js';
import { full } from '../../autograd/ops/creation.js';
import { linear, matmul } from '../../autograd/ops/matmul.js';
import { reshape } from '../../autograd/ops/view.js';
import type { Tensor } from '../../autograd/tensor.js';

/** max(t, 0). */
export const positivePart = (t: Tensor): Tensor => relu(t);
/** min(t, 0). */
export const negativePart = (t: Tensor): Tensor => sub(t, relu(t));
/** 1 where t > 0, else 0. */
export const isPositive = (t: Tensor): Tensor => gt(t, full([], 0));
/** 1 where t < 0, else 0. */
export const isNegative = (t: Tensor): Tensor => lt(t, full([], 0));

/** x · Wᵀ (+ b): the layer's forward with modified parameters. */
export function forwardWith(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return linear(x, weight, bias);
}

/** s · W reshaped to x's shape: the input gradient of x · Wᵀ for the output gradient s. */
export function backThrough(s: Tensor, weight: Tensor, inputShape: readonly number[]): Tensor {
  const out = weight.shape[0]!;
  return reshape(matmul(reshape(s, [-1, out]), weight), inputShape);
}

/** Σ over every row of s [..., out]: a bias gradient [out]. */
export { sumToShape as sumRows } from '../../autograd/ops/sumToShape.js';

/** The inputs of a `linear` node: x, W [out, in], and the bias or null. */
export function linearInputs(inputs: readonly Tensor[]): { x: Tensor; weight: Tensor; bias: Tensor | null } {
  return { x: inputs[0]!, weight: inputs[1]!, bias: inputs[2] ?? null };
}

/**
 * W split by sign, and per output the sums of positive and of negative contributions x_i·w_ij
 * (z⁺ ≥ 0, z⁻ ≤ 0), each bias counted on the side of its sign: z = z⁺ + z⁻.
 */
export function signedContributions(x: Tensor, weight: Tensor, bias: Tensor | null): { wPos: Tensor; wNeg: Tensor; zPos: Tensor; zNeg: Tensor } {
  const [wPos, wNeg] = [positivePart(weight), negativePart(weight)];
  const [xPos, xNeg] = [positivePart(x), negativePart(x)];
  let zPos = add(forwardWith(xPos, wPos), forwardWith(xNeg, wNeg));
  let zNeg = add(forwardWith(xPos, wNeg), forwardWith(xNeg, wPos));
  if (bias) {
    zPos = add(zPos, positivePart(bias));
    zNeg = add(zNeg, negativePart(bias));
  }
  return { wPos, wNeg, zPos, zNeg };
}
