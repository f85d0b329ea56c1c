/**
 * Identity rule for elementwise nonlinearities y = f(x) (GELU, SiLU, tanh): R_x = R_y.
 * Gradient form: g_x = g_y ⊙ y ⊘ x (stabilised at x = 0), so that x ⊙ g_x = y ⊙ g_y.
 */
import type { BackwardRule } from '../../autograd/graph.js';
import { identityRatio } from '../../autograd/ops/elementwise.js';

/** Stabiliser of the division by x; at x = 0 the output is 0 too, so the result is 0. */
const TINY = 1e-12;

/**
 * The identity rule for elementwise nonlinearities y = f(x) (GELU, SiLU, tanh): R_x = R_y, in
 * gradient form g_x = g_y ⊙ y ⊘ x (0 at x = 0).
 */
export const identityRule: BackwardRule = {
  name: 'identity',
  // (g ⊙ y) ⊘ (x + TINY·sign x) in one fused kernel.
  backward: (ctx, g) => [identityRatio(g, ctx.output, ctx.inputs[0]!, TINY)],
};
