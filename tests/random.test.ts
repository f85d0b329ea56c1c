/**
 * Index-generated tensors: arange, seeded Philox random numbers (known answers, reference match,
 * reproducibility, moments of 1e6 samples, range) and sinusoidal position tables.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose } from './helpers/close.js';
import { arange, randomNormal, randomUniform, sinusoidalPositions } from '../autograd/index.js';
import { f32Below, seedKey } from '../kernels/random.js';
import { refNormal, refPhilox, refUniform } from '../kernels/reference/random.js';
import { refSinusoidalPositions } from '../kernels/reference/rotary.js';

beforeAll(async () => {
  await gpu();
});

function moments(x: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (let k = 0; k < x.length; k++) {
    const v = x[k]!;
    s += v;
    s2 += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = s / x.length;
  return { mean, std: Math.sqrt(s2 / x.length - mean * mean), min, max };
}

describe('arange', () => {
  it('counts in f32 and i32 with a start and step', async () => {
    expect(Array.from(await arange(5).toArray())).toEqual([0, 1, 2, 3, 4]);
    const ints = arange(4, 'i32', 10, -3);
    expect(ints.dtype).toBe('i32');
    expect(Array.from(await ints.toArray())).toEqual([10, 7, 4, 1]);
    expect(Array.from(await arange(3, 'f32', 0.5, 0.25).toArray())).toEqual([0.5, 0.75, 1]);
    expect(arange(0).shape).toEqual([0]);
    const big = await arange(100_000, 'i32').toArray();
    expect(big.every((v, k) => v === k)).toBe(true);
    expect(() => arange(3, 'i32', 0.5)).toThrow('arange: an i32 range needs integer start and step');
    expect(() => arange(-1)).toThrow('arange: n must be a non-negative integer, got -1');
  });
});

describe('Philox-4x32-10', () => {
  it('reference reproduces the Random123 known-answer vectors', () => {
    const hex = (w: number[]): string[] => w.map((v) => v.toString(16).padStart(8, '0'));
    expect(hex(refPhilox([0, 0, 0, 0], [0, 0]))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    expect(hex(refPhilox([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]))).toEqual(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    expect(hex(refPhilox([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).toEqual(['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  });

  it('the kernel matches the reference element by element (uniform and normal, low and high seed words)', async () => {
    const n = 4099;
    for (const seed of [0, 42, 2 ** 32 + 7, 2 ** 53 - 1]) {
      const key = seedKey(seed);
      const u = await randomUniform([n], seed, -2, 3).toArray();
      expectClose(u, Array.from({ length: n }, (_, k) => refUniform(k, key, -2, 3)), { rtol: 0, atol: 5e-7 }, `uniform seed ${seed}`);
      const z = await randomNormal([n], seed, 1, 2).toArray();
      expectClose(z, Array.from({ length: n }, (_, k) => refNormal(k, key, 1, 2)), { rtol: 1e-5, atol: 2e-5 }, `normal seed ${seed}`);
    }
    // Element 0 of seed 0 is the first known-answer word: (0x6627e8d5 >> 8) · 2^-24.
    expect((await randomUniform([1], 0).toArray())[0]).toBe((0x6627e8d5 >>> 8) * 2 ** -24);
  });

  it('is reproducible, seed-dependent and independent of the shape', async () => {
    const a = await randomUniform([1000], 7).toArray();
    const b = await randomUniform([1000], 7).toArray();
    const c = await randomUniform([10, 10, 10], 7).toArray();
    const d = await randomUniform([1000], 8).toArray();
    const e = await randomUniform([1000], 7 + 2 ** 32).toArray();
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(c)).toEqual(Array.from(a));
    const sameAs = (x: ArrayLike<number>): number => Array.from(x).filter((v, k) => v === a[k]).length;
    expect(sameAs(d)).toBeLessThan(5);
    expect(sameAs(e)).toBeLessThan(5);
    const prefix = await randomNormal([10], 3).toArray();
    const longer = await randomNormal([5000], 3).toArray();
    expect(Array.from(longer.subarray(0, 10))).toEqual(Array.from(prefix));
  });

  it('uniform: 1e6 samples stay in [lo, hi) with the right mean and spread', async () => {
    const x = await randomUniform([1000, 1000], 123, -1, 3).toArray();
    const m = moments(x);
    expect(m.min).toBeGreaterThanOrEqual(-1);
    expect(m.max).toBeLessThan(3);
    expect(Math.abs(m.mean - 1)).toBeLessThan(0.01);
    expect(Math.abs(m.std - 4 / Math.sqrt(12))).toBeLessThan(0.005);
    // Ten equal bins each hold ~10% (binomial sd ≈ 0.03%).
    const bins = new Array<number>(10).fill(0);
    for (let k = 0; k < x.length; k++) bins[Math.floor(((x[k]! + 1) / 4) * 10)]!++;
    for (const count of bins) expect(Math.abs(count / x.length - 0.1)).toBeLessThan(0.002);
    // The cap keeps values below hi even where lo + (hi − lo)·u would round up to it.
    expect(f32Below(1)).toBe(1 - 2 ** -24);
    const tight = await randomUniform([100_000], 5, 1e6, 1e6 + 0.125).toArray();
    expect(tight.every((v) => v >= 1e6 && v < 1e6 + 0.125)).toBe(true);
  });

  it('normal: 1e6 samples have the requested mean and standard deviation', async () => {
    const x = await randomNormal([1_000_000], 99, 0, 1).toArray();
    const m = moments(x);
    expect(Math.abs(m.mean)).toBeLessThan(0.005);
    expect(Math.abs(m.std - 1)).toBeLessThan(0.005);
    // Tail mass beyond ±1.96σ ≈ 5%.
    let tailCount = 0;
    for (let k = 0; k < x.length; k++) if (Math.abs(x[k]!) > 1.959964) tailCount++;
    const tail = tailCount / x.length;
    expect(Math.abs(tail - 0.05)).toBeLessThan(0.002);
    const y = moments(await randomNormal([200_000], 100, -3, 0.5).toArray());
    expect(Math.abs(y.mean + 3)).toBeLessThan(0.01);
    expect(Math.abs(y.std - 0.5)).toBeLessThan(0.005);
  });

  it('rejects bad seeds and parameters', () => {
    expect(() => randomUniform([2], -1)).toThrow('randomUniform: the seed must be a non-negative safe integer, got -1');
    expect(() => randomNormal([2], 1.5)).toThrow('randomNormal: the seed must be a non-negative safe integer, got 1.5');
    expect(() => randomUniform([2], 0, 1, 1)).toThrow('randomUniform: needs lo < hi, got [1, 1)');
    expect(() => randomNormal([2], 0, 0, -1)).toThrow('randomNormal: the standard deviation must be ≥ 0, got -1');
  });
});

describe('sinusoidalPositions', () => {
  it('matches Vaswani et al. (sin on even, cos on odd columns), odd widths included', async () => {
    for (const [T, d] of [[7, 8], [33, 32], [5, 7], [0, 4]] as const) {
      const pe = sinusoidalPositions(T, d);
      expect(pe.shape).toEqual([T, d]);
      expectClose(await pe.toArray(), refSinusoidalPositions(T, d).data, { rtol: 0, atol: 1e-7 }, `T=${T} d=${d}`);
    }
    const pe = await sinusoidalPositions(3, 4).toNested();
    expect(pe).toEqual([
      [0, 1, 0, 1],
      [Math.fround(Math.sin(1)), Math.fround(Math.cos(1)), Math.fround(Math.sin(0.01)), Math.fround(Math.cos(0.01))],
      [Math.fround(Math.sin(2)), Math.fround(Math.cos(2)), Math.fround(Math.sin(0.02)), Math.fround(Math.cos(0.02))],
    ]);
  });
});
