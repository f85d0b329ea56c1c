/**
 * Uniform rule for a product of variable operands (Q·Kᵀ, A·V, act(gate)⊙up, and the rotary
 * products x⊙cos, rot(x)⊙sin): each of the two operands of a product receives half of its
 * relevance. Gradient form: the op's own gradient, halved, whenever at least two operands are
 * variable; with one variable operand the product is linear in it and gets the full gradient.
 */
import type { BackwardRule } from '../../autograd/graph.js';
import { scale } from '../../autograd/ops/elementwise.js';

export const uniformRule: BackwardRule = {
  name: 'uniform',
  backward: (ctx, g) => {
    const variable = ctx.needsGrad.filter(Boolean).length;
    // A backward is linear in g: halving g once halves every input's gradient (one dispatch, not one per input).
    return ctx.defaultBackward(variable < 2 ? g : scale(g, 0.5));
  },
};
