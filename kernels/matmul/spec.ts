/**
 * The matmul template's spec (everything the WGSL depends on; the pipeline key is derived from
 * it) and the layout of its parameter block (what varies per call without a new pipeline).
 */
import type { MatmulLayout, MatmulPackedLayout } from './plan.js';
import type { MatmulVariant } from './variants.js';
import type { StoreActivation } from '../elementwise.js';

/** What an operand's buffer holds: f32, or 16-bit weights widened as the kernel reads them. */
export type OperandDType = 'f32' | 'f16' | 'bf16';

/** What the template generates for: the kernel's operands as it sees them (after a Cᵀ swap). */
export type MatmulSpec = {
  /** Tile parameters. */
  v: MatmulVariant;
  /** How the kernel's A is read. */
  la: MatmulLayout;
  /** How the kernel's B is read; 'packed'/'packedK' when it comes from a texture (`textureB`). */
  lb: MatmulLayout | MatmulPackedLayout;
  /** Batch dims walked by the kernel (after folding). */
  batchRank: number;
  /** Adds a bias along C's columns (along the kernel's rows when `transposedC`). */
  bias: boolean;
  /** The kernel computes Cᵀ = Bᵀ·Aᵀ (rows of the kernel are columns of C) and stores C transposed. */
  transposedC: boolean;
  /** Storage of the kernel's A (register path only: the shared path and textures read f32). */
  dtypeA: OperandDType;
  /** Storage of the kernel's B read from a buffer (see `dtypeA`). */
  dtypeB: OperandDType;
  /**
   * What the epilogue also stores, into D (same layout as C): nothing (''), an activation of each
   * result (`STORE_ACTIVATIONS`), or 'add': the result plus E, a strided view broadcast to C.
   * 'accumulate' stores the result plus E into C itself, and there is no D.
   */
  then: '' | StoreActivation | 'add' | 'accumulate';
  /**
   * C (and D) are bound as vec4s and stored four adjacent elements at a time (with `transposedC`
   * only: four of the kernel's rows): the kernel's M, C's row stride and its batch strides are
   * multiples of 4.
   */
  storeVec4: boolean;
};

/** Word offsets in the parameter block `p`. */
export const P = {
  M: 0,
  N: 1,
  K: 2,
  tilesM: 3,
  tilesN: 4,
  offC: 5, // offsets of C, A, B: consecutive, read by stridedOffsets
  offA: 6,
  offB: 7,
  sAm: 8,
  sAk: 9,
  sBk: 10,
  sBn: 11,
  alpha: 12,
  offBias: 13,
  sBias: 14,
  workgroups: 15,
  /** C's row stride (N for a contiguous C; the kernel's column stride when `transposedC`). */
  sCm: 16,
  /** The addend E of `then: 'add'` or 'accumulate': its offset and its strides along C's rows and columns. */
  offE: 17,
  sEm: 18,
  sEn: 19,
  /** Batch shape (batchRank words), then the batch strides of C, A, B and E (batchRank words each). */
  batchShape: 20,
} as const;

/** 0 … n-1. */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** A WGSL vec4<f32> built from four scalar expressions. */
export const vec4Of = (parts: string[]): string => `vec4<f32>(${parts.join(', ')})`;

/**
 * FMA statements for K steps `kks` into the accumulators acc{r}_{j} (vec4 along N), given the
 * expressions of A's scalar for (row, step) and B's vec4 for (step, column group).
 */
export function fmaLines(v: MatmulVariant, kks: number[], aAt: (r: number, kk: number) => string, bAt: (kk: number, j: number) => string, indent: string): string[] {
  const lines: string[] = [];
  const fma = (kk: number, r: number, j: number): number => lines.push(`${indent}acc${r}_${j} = fma(vec4<f32>(${aAt(r, kk)}), ${bAt(kk, j)}, acc${r}_${j});`);
  if (v.fmaOrder === 'accumulator') for (const r of range(v.rows)) for (const j of range(v.cols / 4)) for (const kk of kks) fma(kk, r, j);
  else for (const kk of kks) for (const r of range(v.rows)) for (const j of range(v.cols / 4)) fma(kk, r, j);
  return lines;
}
