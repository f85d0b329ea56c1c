/**
 * a ⊙ b · factor in one kernel, for backwards that fold a factor on their incoming gradient
 * (`backwardScaled`: the uniform rule's ½) into the product they compute anyway. Runs outside the
 * graph, as backward code does; not an op, so not exported from the package.
 */
import { elementwise } from '../../kernels/elementwise.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';

export function scaledProduct(a: Tensor, b: Tensor, factor: number): Tensor {
  return wrap(elementwise('mulScaled', [a, b], [factor]));
}
