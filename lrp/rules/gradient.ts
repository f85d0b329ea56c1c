/**
 * The plain gradient, as a named rule: in a composite it says "keep the op's own backward here"
 * where the base method would apply a rule (e.g. LRP-0 on the linear layers of some blocks).
 */
import type { BackwardRule } from '../../autograd/graph.js';

/**
 * The op's own gradient, as a named rule: in a composite it keeps an op's backward where the base method would apply a rule.
 */
export const gradientRule: BackwardRule = {
  name: 'gradient',
  backward: (ctx, g) => ctx.defaultBackward(g),
};
