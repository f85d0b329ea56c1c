/** Tensors made from nothing: constants. They never require grad. */
import { fill } from '../../kernels/fill.js';
import type { DType } from '../../kernels/view.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';

/** A new tensor of `shape` filled with `value`. */
export function full(shape: readonly number[], value: number, dtype: DType = 'f32'): Tensor {
  return wrap(fill(shape, value, dtype));
}

/** A new tensor of `shape` filled with 0. */
export function zeros(shape: readonly number[], dtype: DType = 'f32'): Tensor {
  return full(shape, 0, dtype);
}

/** A new tensor of `shape` filled with 1. */
export function ones(shape: readonly number[], dtype: DType = 'f32'): Tensor {
  return full(shape, 1, dtype);
}
