/** Turns a kernel's output buffer into a Tensor that owns it. */
import type { KernelOutput } from '../../kernels/view.js';
import { Storage } from '../storage.js';
import { Tensor } from '../tensor.js';

export function wrap(out: KernelOutput): Tensor {
  return new Tensor(new Storage(out.buffer), out.shape, out.dtype, out.strides);
}
