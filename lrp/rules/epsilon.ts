/**
 * Epsilon rule for z = W·x + b (op `linear`): R_x = x ⊙ Wᵀ(R_z ⊘ (z + ε·sign z)).
 * Gradient form: the op's own backward applied to g ⊙ z ⊘ (z + ε·sign z). The bias (when it
 * requires grad) receives b ⊙ R_z ⊘ (z + ε·sign z), which is what the report counts as absorbed.
 */
import type { BackwardRule } from '../../autograd/graph.js';
import { epsilonScaled } from '../../autograd/ops/elementwise.js';

/** The ε of the ε-rule (and the stabiliser of the γ, αβ and z⁺ rules) unless given. */
export const DEFAULT_EPSILON = 1e-6;

export function epsilonRule(epsilon: number = DEFAULT_EPSILON): BackwardRule {
  return {
    name: `epsilon(${epsilon})`,
    backward: (ctx, g) => {
      // g ⊙ z ⊘ (z + ε·sign z) in one fused kernel.
      return ctx.defaultBackward(epsilonScaled(g, ctx.output, epsilon));
    },
  };
}
