/**
 * `linear`'s gradients with the kernel that makes the output gradient fused into the product's
 * operand packing. The gradient s that reaches gx = s·W (and the bias, as its column sums) is an
 * elementwise kernel of tensors already there: the ε-rule's g ⊙ z ⊘ (z + ε·sign z), or g itself
 * for linear's own backward. Where the packed product would pack s (for Cᵀ = Wᵀ·sᵀ), that kernel
 * writes s straight into the texture and sums its columns, and the product reads the texture:
 * one dispatch fewer per layer, and s is never stored. Not recorded (for backward functions).
 */
import { elementwiseColumnsIntoTexture, type ElementwiseKernel } from '../../kernels/elementwise.js';
import { matmulPrepackedA } from '../../kernels/matmul.js';
import type { GpuView, KernelOutput } from '../../kernels/view.js';
import type { BackwardContext } from '../graph.js';
import type { Tensor } from '../tensor.js';
import { rowsView } from './rowsView.js';
import { reshape } from './view.js';
import { add } from './elementwise.js';
import { wrap } from './wrap.js';

/**
 * A linear layer's input gradient `flat` ([rows, in], the product s·W) with the input's earlier
 * gradient `prior` included: the product added it in its store when `folded` (the prior could be
 * read as rows, `MatmulOptions.accumulate`), else it is added here. Consumes `flat`.
 */
export function withPrior(flat: Tensor, prior: Tensor | null, folded: boolean): Tensor {
  if (!prior || folded) return flat;
  const summed = add(flat, reshape(prior, flat.shape));
  flat.dispose();
  return summed;
}

/** The output gradient s of a `linear` as an elementwise kernel over tensors of the output's shape. */
export interface LinearGradSource {
  /** The kernel (`epsilonScale`, or `copy` for g itself). */
  op: ElementwiseKernel;
  /** Its inputs, each of the linear's output shape. */
  inputs: readonly Tensor[];
  /** Its scalars (ε for `epsilonScale`). */
  scalars?: readonly number[];
  /**
   * Where the kernel should also write Σ_rows inputs[0] ⊙ inputs[1] per output column (`out`
   * slots), asked for just before it is recorded; null: nowhere. The ε-rule's inputs g and z give
   * the layer's output relevance, which the conservation ledger reads (lrp/dotBatch.ts).
   */
  inputDots?: (out: number) => { buffer: GPUBuffer; offset: number } | null;
}

/**
 * `linearGrads(ctx, s, Σ_rows s)` for s = `source` (see `LinearGradSource`), computed with s packed
 * by the kernel that makes it; or null where that does not apply (W needs a gradient, x needs
 * none, an input not readable as rows, or the product would not pack s: see `matmulPrepackedA`),
 * and the caller runs the unfused path. Where it applies, the results equal the unfused path's
 * bit for bit: the same plan reads the same texels, and the sums add in the reduction's order.
 */
export function linearGradsPacked(ctx: BackwardContext, source: LinearGradSource): (Tensor | null)[] | null {
  const [x, w, bias] = ctx.inputs as [Tensor, Tensor, Tensor | undefined];
  const z = ctx.output;
  if (ctx.op !== 'linear' || !ctx.needsGrad[0] || ctx.needsGrad[1]) return null;
  const views: GpuView[] = [];
  for (const t of source.inputs) {
    const view = t.dtype === 'f32' && t.rank === z.rank && t.shape.every((d, i) => d === z.shape[i]) ? rowsView(t) : null;
    if (!view) return null;
    views.push(view);
  }
  const [rows, out] = views[0]!.shape as [number, number];
  const made: { sums?: KernelOutput; prior: Tensor | null; priorRows: GpuView | null } = { prior: null, priorRows: null };
  // A 16-bit W is read as stored: the product widens it as it loads it.
  const product = matmulPrepackedA(
    {
      rows,
      cols: out,
      pack: () => {
        const inputDots = source.inputDots?.(out) ?? undefined;
        const packed = elementwiseColumnsIntoTexture(source.op, views, source.scalars ?? [], { inputDots });
        made.sums = packed.sums;
        return packed.texture;
      },
      // x's gradient so far (from its other consumers: q, k and v of one input, a gated MLP's
      // gate and up) is added in the product's store instead of by the sweep's add. Taken only
      // now that the product runs; a prior that cannot be read as rows is added after it.
      accumulate: () => {
        made.prior = ctx.takeAccumulatedGrad?.(0) ?? null;
        made.priorRows = made.prior ? rowsView(made.prior) : null;
        return made.priorRows;
      },
    },
    w,
  );
  if (!product || !made.sums) return null;
  const flat = withPrior(wrap(product), made.prior, made.priorRows !== null);
  const gx = reshape(flat, x.shape);
  flat.dispose();
  const columnSums = wrap(made.sums);
  if (bias && ctx.needsGrad[2]) return [gx, null, columnSums];
  columnSums.dispose();
  return bias ? [gx, null, null] : [gx, null];
}
