/**
 * αβ-rule and z⁺-rule for `linear` (Bach et al. 2015; Montavon et al. 2017). Contributions
 * c_ij = x_i w_ij are split by sign; with z⁺_j = Σ_i c⁺_ij + b⁺_j and z⁻_j = Σ_i c⁻_ij + b⁻_j,
 *
 *   R_i = Σ_j ( α c⁺_ij ⊘ z⁺_j − β c⁻_ij ⊘ z⁻_j ) R_j ,     α − β = 1,
 *
 * which conserves (bias shares included) whenever z⁺_j ≠ 0 and z⁻_j ≠ 0. z⁺ is α = 1, β = 0.
 * Gradient form (docs/rules.md): with A = α ĝ ⊙ z ⊘ (z⁺ + ε), B = β ĝ ⊙ z ⊘ (z⁻ − ε),
 * ĝ_x = [x > 0] ⊙ (W⁺ᵀA − W⁻ᵀB) + [x < 0] ⊙ (W⁻ᵀA − W⁺ᵀB).
 */
import type { BackwardRule } from '../../autograd/graph.js';
import type { OpAttrs } from '../../autograd/opTypes.js';
import { add, mul, scale, stabilizedDiv, sub } from '../../autograd/ops/elementwise.js';
import type { Tensor } from '../../autograd/tensor.js';
import { DEFAULT_EPSILON } from './epsilon.js';
import { backThrough, isNegative, isPositive, linearInputs, signedContributions, sumRows } from './linearParts.js';

/**
 * The αβ-rule for `linear`: positive and negative contributions c_ij = x_i w_ij are normalised
 * separately, R_i = Σ_j (α c⁺_ij ⊘ z⁺_j − β c⁻_ij ⊘ z⁻_j) R_j, with α − β = 1 (e.g. α = 2, β = 1).
 * `epsilon` stabilises z⁺ and z⁻.
 */
export function alphaBetaRule(alpha: number, beta: number, epsilon = DEFAULT_EPSILON): BackwardRule<OpAttrs['linear']> {
  if (!(Math.abs(alpha - beta - 1) < 1e-12) || beta < 0) throw new Error(`alphaBetaRule: needs α − β = 1 and β ≥ 0 (got α = ${alpha}, β = ${beta})`);
  const name = beta === 0 && alpha === 1 ? 'z-plus' : `alpha${alpha}-beta${beta}`;
  return {
    name,
    backward: (ctx, g) => {
      const { x, weight, bias } = linearInputs(ctx.inputs);
      const z = ctx.output;
      const { wPos, wNeg, zPos, zNeg } = signedContributions(x, weight, bias);
      const gz = mul(g, z);
      // z⁺ ≥ 0 is stabilised by +ε; z⁻ ≤ 0 by −ε (at z⁻ = 0 no negative contribution uses B).
      const a = scale(stabilizedDiv(gz, zPos, epsilon), alpha);
      const b = beta === 0 ? null : scale(stabilizedDiv(gz, zNeg, epsilon), beta);
      const grads: (Tensor | null)[] = [null, null];
      if (ctx.needsGrad[0]) {
        let onPos = backThrough(a, wPos, x.shape);
        let onNeg = backThrough(a, wNeg, x.shape);
        if (b) {
          onPos = sub(onPos, backThrough(b, wNeg, x.shape));
          onNeg = sub(onNeg, backThrough(b, wPos, x.shape));
        }
        grads[0] = add(mul(isPositive(x), onPos), mul(isNegative(x), onNeg));
      }
      if (bias) {
        let gb = mul(isPositive(bias), a);
        if (b) gb = sub(gb, mul(isNegative(bias), b));
        grads.push(ctx.needsGrad[2] ? sumRows(gb, bias.shape) : null);
      }
      return grads;
    },
  };
}

/** The z⁺-rule: αβ with α = 1, β = 0 (only positive contributions receive relevance). */
export function zPlusRule(epsilon = DEFAULT_EPSILON): BackwardRule<OpAttrs['linear']> {
  return alphaBetaRule(1, 0, epsilon);
}
