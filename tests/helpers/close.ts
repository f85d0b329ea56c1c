/** Numeric assertions: elementwise closeness with a stated tolerance, and the worst offender in the message. */
import { expect } from 'vitest';
import { seededUniform } from '../../autograd/rng.js';

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, { rtol = 1e-5, atol = 1e-6 }: Tolerance = {}, label = ''): void {
  expect(actual.length, `${label} length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (e === a) continue;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${label} element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

/** A seeded generator (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  return seededUniform(seed);
}

export function randomArray(n: number, random: () => number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * random();
  return a;
}
