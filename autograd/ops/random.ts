/**
 * Tensors generated from their index (constants, no gradient): ranges, seeded random numbers, and
 * sinusoidal position tables.
 */
import { arange as arangeKernel } from '../../kernels/fill.js';
import { random } from '../../kernels/random.js';
import type { DType } from '../../kernels/view.js';
import { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';

/** [n] with element k = start + k·step. */
export function arange(n: number, dtype: DType = 'f32', start = 0, step = 1): Tensor {
  if (!Number.isInteger(n) || n < 0) throw new Error(`arange: n must be a non-negative integer, got ${n}`);
  return wrap(arangeKernel(n, dtype, start, step));
}

/**
 * f32 values uniform in [lo, hi), element k a pure function of (seed, k) (Philox-4x32-10): the
 * same seed gives the same values for any shape with the same element count.
 */
export function randomUniform(shape: readonly number[], seed: number, lo = 0, hi = 1): Tensor {
  return wrap(random('uniform', shape, seed, lo, hi));
}

/** f32 normal(mean, std) values (Box–Muller on Philox-4x32-10 words of (seed, k)). */
export function randomNormal(shape: readonly number[], seed: number, mean = 0, std = 1): Tensor {
  return wrap(random('normal', shape, seed, mean, std));
}

/**
 * Vaswani et al. positions [T, d]: PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...).
 * Computed on the host in float64 and uploaded as f32 (more exact than f32 sin/cos of large
 * angles on the GPU).
 */
export function sinusoidalPositions(T: number, d: number): Tensor {
  if (!Number.isInteger(T) || T < 0 || !Number.isInteger(d) || d <= 0) {
    throw new Error(`sinusoidalPositions: T and d must be integers (T ≥ 0, d > 0), got ${T} and ${d}`);
  }
  const table = new Float32Array(T * d);
  for (let pos = 0; pos < T; pos++) {
    for (let c = 0; c < d; c++) {
      const angle = pos / 10000 ** ((2 * Math.floor(c / 2)) / d);
      table[pos * d + c] = c % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return Tensor.fromArray(table, [T, d]);
}
