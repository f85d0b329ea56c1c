/**
 * Reference for the seeded generators: Philox-4x32-10 in BigInt (an independent way to form the
 * 64-bit products the kernel assembles from 16-bit halves), and the distributions built on it.
 */
import { PHILOX_M0, PHILOX_M1, PHILOX_ROUNDS, PHILOX_W0, PHILOX_W1 } from '../random.js';

const MASK32 = 0xffffffffn;

function mulhilo(a: number, b: number): [number, number] {
  const p = BigInt(a) * BigInt(b);
  return [Number(p >> 32n), Number(p & MASK32)];
}

export function refPhilox(counter: readonly [number, number, number, number], key: readonly [number, number]): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter;
  let [k0, k1] = key;
  for (let r = 0; r < PHILOX_ROUNDS; r++) {
    const [hi0, lo0] = mulhilo(PHILOX_M0, c0);
    const [hi1, lo1] = mulhilo(PHILOX_M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

const unit = (x: number): number => (x >>> 8) * 2 ** -24;

/** Element k of `randomUniform` (before the f32 rounding of lo + (hi − lo)·u). */
export function refUniform(k: number, key: readonly [number, number], lo: number, hi: number): number {
  return lo + (hi - lo) * unit(refPhilox([k, 0, 0, 0], key)[0]);
}

/** Element k of `randomNormal`: Box–Muller on the first two words. */
export function refNormal(k: number, key: readonly [number, number], mean: number, std: number): number {
  const [r0, r1] = refPhilox([k, 0, 0, 0], key);
  return mean + std * Math.sqrt(-2 * Math.log(unit(r0) + 2 ** -24)) * Math.cos(2 * Math.PI * unit(r1));
}
