/**
 * A product whose left operand is never stored: the caller's kernel writes A straight into the
 * texture the packed variant reads, where `matmul` would copy it there with `packIntoTexture`.
 * The ε-rule uses it for s·W: the kernel that computes s packs it (kernels/elementwise.ts,
 * `elementwiseColumnsIntoTexture`), so s is written once, as texels, and no pack dispatch runs.
 */
import type { ScratchTexture } from '../texturePool.js';
import type { GpuView, KernelOutput } from '../view.js';
import { launchMatmul } from './dispatch.js';
import { planMatmul, type MatmulOptions } from './plan.js';

/** A left operand A [rows, cols] that exists only as what `pack` writes. */
export interface PrepackedOperand {
  /** A's rows (M of the product). */
  readonly rows: number;
  /** A's columns (K of the product). */
  readonly cols: number;
  /**
   * Writes A into a pooled texture of ⌈rows/4⌉ × cols texels and one layer, texel (x, k) =
   * A[4x … 4x+3][k] with zeros past the last row (what `packIntoTexture` makes of Aᵀ [cols, rows]).
   * The product releases the texture once it is recorded.
   */
  pack(): ScratchTexture;
  /**
   * Asked once the product is known to run here, before `pack`: a view to add to the product in
   * its store (`MatmulOptions.accumulate`), or null. A caller that hands over something it must
   * then see included (a gradient accumulated before) learns this way that it will be.
   */
  accumulate?(): GpuView | null;
}

/**
 * alpha · A · b (+ bias) for b [cols, N], with A packed by the caller, or null (and `pack` not
 * called) where the plan for a stored A of that shape would not pack A into one layer along its
 * rows: an adapter without the packed variant, B packed instead, a shape past the texture limits,
 * an empty product. The caller then computes A and runs `matmul`. The plan is the one a stored
 * contiguous A gets, so the product is the same kernel on the same texels: equal bit for bit.
 */
export function matmulPrepackedA(a: PrepackedOperand, b: GpuView, options: MatmulOptions = {}): KernelOutput | null {
  if (b.shape.length !== 2 || a.rows === 0 || a.cols === 0 || b.shape[1] === 0) return null;
  // Planning reads A's shape, strides and offset only; A's buffer is never bound when A is packed.
  const stand: GpuView = { buffer: b.buffer, shape: [a.rows, a.cols], strides: [a.cols, 1], offset: 0, dtype: 'f32' };
  const plan = planMatmul(stand, b, options);
  if (plan.layoutA !== 'packed' || plan.batch.length !== 0) return null;
  const addend = a.accumulate?.() ?? null;
  if (!addend) return launchMatmul(plan, stand, b, options, () => a.pack());
  // The addend changes only the epilogue's strides, not the layouts checked above.
  const withAddend = { ...options, accumulate: addend };
  return launchMatmul(planMatmul(stand, b, withAddend), stand, b, withAddend, () => a.pack());
}
