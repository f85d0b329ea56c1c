/** Widening 16-bit weight storage for the kernels that read f32 only (the matrix products). */
import { elementwise } from '../../kernels/elementwise.js';
import { isHalf } from '../../kernels/view.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';

/**
 * Runs `fn` on `t` as the product kernel can read it: 16-bit weight storage is widened into a
 * temporary f32 copy that lives only for this one product (the graph keeps the 16-bit tensor, so
 * an explanation holds weights at 16 bits), other tensors are passed as they are.
 */
export function withF32<T>(t: Tensor, fn: (readable: Tensor) => T): T {
  if (!isHalf(t.dtype)) return fn(t);
  const widened = wrap(elementwise('copy', [t]));
  try {
    return fn(widened);
  } finally {
    widened.dispose();
  }
}
