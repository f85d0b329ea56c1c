/**
 * Proportional split of a sum z = s + A of variable addends (attention logits plus a positional
 * bias, ALiBi): the ε-rule for sums with ε → 0, R_s = s ⊙ R_z ⊘ z and R_A = A ⊙ R_z ⊘ z, so
 * R_s + R_A = R_z exactly. Gradient form: both addends receive ĝ_z, which is the op's own
 * backward (docs/rules.md, "ALiBi").
 */
import type { BackwardRule } from '../../autograd/graph.js';

export const proportionalSumRule: BackwardRule = {
  name: 'proportional',
  backward: (ctx, g) => ctx.defaultBackward(g),
};
