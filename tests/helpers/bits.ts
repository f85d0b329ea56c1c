/** Exact comparisons of f32 results and the value of 16-bit storage, computed independently of the kernels. */

/** f16 bits → value, by the IEEE formula (independent of the kernels and the loader). */
export function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** bf16 bits → value: the top half of an f32. */
export function bf16Value(h: number): number {
  return new Float32Array(new Uint32Array([h << 16]).buffer)[0]!;
}

/** Bit patterns of f32 values, so -0 and +0 differ and the comparison is exact. */
export const bitsOf = (values: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(values).buffer));
