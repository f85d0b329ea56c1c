/**
 * Uniform rule for a product of variable operands (Q·Kᵀ, A·V, act(gate)⊙up, and the rotary
 * products x⊙cos, rot(x)⊙sin): each of the two operands of a product receives half of its
 * relevance. Gradient form: the op's own gradient, halved, whenever at least two operands are
 * variable; with one variable operand the product is linear in it and gets the full gradient.
 */
import type { BackwardRule } from '../../autograd/graph.js';
import { scale } from '../../autograd/ops/elementwise.js';

/**
 * The uniform rule for products of variable operands (Q·Kᵀ, A·V, gated MLPs, rotary products):
 * each of two variable operands receives half the relevance; with one variable operand the
 * product is linear in it and the gradient passes whole.
 */
export const uniformRule: BackwardRule = {
  name: 'uniform',
  backward: (ctx, g) => {
    const variable = ctx.needsGrad.filter(Boolean).length;
    if (variable < 2) return ctx.defaultBackward(g);
    // A backward is linear in g: the products fold ½ into their kernels' alpha; other ops halve g
    // once (one dispatch, not one per input).
    return ctx.scaledBackward ? ctx.scaledBackward(g, 0.5) : ctx.defaultBackward(scale(g, 0.5));
  },
};
