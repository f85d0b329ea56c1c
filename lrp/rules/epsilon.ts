/**
 * Epsilon rule for z = W·x + b (op `linear`): R_x = x ⊙ Wᵀ(R_z ⊘ (z + ε·sign z)).
 * Gradient form: the op's own backward applied to g ⊙ z ⊘ (z + ε·sign z). The bias (when it
 * requires grad) receives b ⊙ R_z ⊘ (z + ε·sign z), which is what the report counts as absorbed.
 */
import type { BackwardRule } from '../../autograd/graph.js';
import { epsilonScaled, epsilonScaledWithColumnSums } from '../../autograd/ops/elementwise.js';
import { linearGradsPacked } from '../../autograd/ops/packedLinearGrads.js';
import { linearGrads } from '../../autograd/ops/matmul.js';
import { activeDotBatch } from '../dotBatch.js';

/** The ε of the ε-rule (and the stabiliser of the γ, αβ and z⁺ rules) unless given. */
export const DEFAULT_EPSILON = 1e-6;

/**
 * The ε-rule for `linear` (z = W·x + b): R_x = x ⊙ Wᵀ(R_z ⊘ (z + ε·sign z)); the bias absorbs
 * b ⊙ R_z ⊘ (z + ε·sign z). With ε = 0 it is LRP-0: the op's own gradient wherever z ≠ 0.
 */
export function epsilonRule(epsilon: number = DEFAULT_EPSILON): BackwardRule {
  return {
    name: `epsilon(${epsilon})`,
    backward: (ctx, g) => {
      // For a linear layer whose product packs s = g ⊙ z ⊘ (z + ε·sign z), one kernel computes s
      // into the product's texture and sums the bias gradient: s is never stored.
      // The same kernel sums g ⊙ z per column, the layer's output relevance, where the ledger will ask for it.
      const batch = activeDotBatch();
      const inputDots = batch ? (columns: number) => batch.reserve(ctx.output, g, columns) : undefined;
      const fused = ctx.op === 'linear' ? linearGradsPacked(ctx, { op: 'epsilonScale', inputs: [g, ctx.output], scalars: [epsilon], inputDots }) : null;
      if (fused) return fused;
      // Else s in one fused kernel; for a linear layer whose bias takes relevance, the same
      // dispatch sums the bias gradient (what linear's own backward would sum again).
      if (ctx.op === 'linear' && ctx.inputs.length === 3 && ctx.needsGrad[2]) {
        const { scaled, columnSums } = epsilonScaledWithColumnSums(g, ctx.output, epsilon);
        return linearGrads(ctx, scaled, columnSums);
      }
      return ctx.defaultBackward(epsilonScaled(g, ctx.output, epsilon));
    },
  };
}
