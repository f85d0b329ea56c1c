/**
 * a ⊙ b · factor in one kernel (`mul`, or `mulScaled` when factor ≠ 1), for the backwards of the
 * products: their default backward is factor 1, and `backwardScaled` (the uniform rule's ½) folds
 * the factor into the product it computes anyway. Runs outside the graph, as backward code does;
 * not an op, so not exported from the package.
 */
import { elementwise } from '../../kernels/elementwise.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';

export function scaledProduct(a: Tensor, b: Tensor, factor: number): Tensor {
  return wrap(factor === 1 ? elementwise('mul', [a, b]) : elementwise('mulScaled', [a, b], [factor]));
}
