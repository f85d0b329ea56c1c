/**
 * AttnLRP's softmax rule: R_x = x ⊙ (R_s − s·ΣR_s). With R_s = s ⊙ g this equals x ⊙ (the
 * ordinary softmax gradient), so in gradient form the rule is the op's own backward. It is not
 * conservative: the layer report shows what it gains or loses per attention layer.
 */
import type { BackwardRule } from '../../autograd/graph.js';

export const softmaxRule: BackwardRule = {
  name: 'softmax',
  backward: (ctx, g) => ctx.defaultBackward(g),
};
