/**
 * γ-rules for `linear` (z = Wx + b). Both favour positive evidence by adding γ times part of each
 * contribution c_ij = x_i w_ij before normalising; docs/rules.md gives the LRP and gradient forms.
 *
 * - `gammaRule(γ)`: LRP-γ (Montavon et al. 2019): W' = W + γW⁺, b' = b + γb⁺.
 * - `signedGammaRule(γ)`: the sign-aware γ (zennit's `Gamma`, which LXT applies to the linear
 *   layers of vision transformers with AttnLRP): contributions that agree in sign with z_j are
 *   amplified by (1 + γ), so positive outputs favour positive and negative outputs negative
 *   evidence. For x ≥ 0 and z > 0 it equals LRP-γ.
 *
 * Relevance reaching the weights is not computed (their gradient is null); the bias, when it
 * requires grad, receives its share b' ⊙ s so the report can count what it absorbs.
 */
import type { BackwardRule } from '../../autograd/graph.js';
import type { OpAttrs } from '../../autograd/opTypes.js';
import { add, mul, scale, stabilizedDiv } from '../../autograd/ops/elementwise.js';
import type { Tensor } from '../../autograd/tensor.js';
import { DEFAULT_EPSILON } from './epsilon.js';
import { backThrough, forwardWith, isNegative, isPositive, linearInputs, positivePart, signedContributions, sumRows } from './linearParts.js';

/** A rule for the `linear` op (it reads the op's inputs x, W and b). */
export type LinearRule = BackwardRule<OpAttrs['linear']>;

/** LRP-γ: R_x = x ⊙ W'ᵀ(R_z ⊘ (z' + ε·sign z')), W' = W + γW⁺, z' = W'x + b'. */
export function gammaRule(gamma: number, epsilon = DEFAULT_EPSILON): LinearRule {
  return {
    name: `gamma(${gamma})`,
    backward: (ctx, g) => {
      const { x, weight, bias } = linearInputs(ctx.inputs);
      const w = add(weight, scale(positivePart(weight), gamma));
      const b = bias && add(bias, scale(positivePart(bias), gamma));
      // s = ĝ_z ⊙ z ⊘ (z' + ε·sign z'): R_z ⊘ (z' + ε·sign z') in gradient form.
      const s = mul(g, stabilizedDiv(ctx.output, forwardWith(x, w, b), epsilon));
      const grads: (Tensor | null)[] = [ctx.needsGrad[0] ? backThrough(s, w, x.shape) : null, null];
      // b ⊙ ĝ_b = b' ⊙ s, and b'/b = 1 + γ·[b > 0].
      if (bias) grads.push(ctx.needsGrad[2] ? sumRows(mul(s, scale(isPositive(bias), gamma, 1)), bias.shape) : null);
      return grads;
    },
  };
}

/**
 * Sign-aware γ: c'_ij = c_ij·(1 + γ·[c_ij agrees in sign with z_j]), R_i = Σ_j c'_ij R_j ⊘ (z'_j + ε·sign z'_j).
 */
export function signedGammaRule(gamma: number, epsilon = DEFAULT_EPSILON): LinearRule {
  return {
    name: `signed-gamma(${gamma})`,
    backward: (ctx, g) => {
      const { x, weight, bias } = linearInputs(ctx.inputs);
      const z = ctx.output;
      const { wPos, wNeg, zPos, zNeg } = signedContributions(x, weight, bias);
      // m = [z ≥ 0] (sign 0 := +1); z' = z + γ·(m ⊙ z⁺ + (1 − m) ⊙ z⁻).
      const m = scale(isNegative(z), -1, 1);
      const notM = isNegative(z);
      const zMod = add(z, scale(add(mul(m, zPos), mul(notM, zNeg)), gamma));
      const s = mul(g, stabilizedDiv(z, zMod, epsilon));
      const grads: (Tensor | null)[] = [null, null];
      if (ctx.needsGrad[0]) {
        const [sm, sn] = [mul(s, m), mul(s, notM)];
        const agreeing = add(
          mul(isPositive(x), add(backThrough(sm, wPos, x.shape), backThrough(sn, wNeg, x.shape))),
          mul(isNegative(x), add(backThrough(sm, wNeg, x.shape), backThrough(sn, wPos, x.shape))),
        );
        grads[0] = add(backThrough(s, weight, x.shape), scale(agreeing, gamma));
      }
      if (bias) {
        // b'/b = 1 + γ·(m ⊙ [b > 0] + (1 − m) ⊙ [b < 0]), per row.
        const ratio = scale(add(mul(m, isPositive(bias)), mul(notM, isNegative(bias))), gamma, 1);
        grads.push(ctx.needsGrad[2] ? sumRows(mul(s, ratio), bias.shape) : null);
      }
      return grads;
    },
  };
}
