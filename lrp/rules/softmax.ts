/**
 * AttnLRP's softmax rule: R_x = x ⊙ (R_s − s·ΣR_s). With R_s = s ⊙ g this equals x ⊙ (the
 * ordinary softmax gradient), so in gradient form the rule is the op's own backward. It is not
 * conservative: the layer report shows what it gains or loses per attention layer.
 */
import type { BackwardRule } from '../../autograd/graph.js';

/**
 * AttnLRP's softmax rule, R_x = x ⊙ (R_s − s·ΣR_s): in gradient form, the softmax's own backward.
 * Not conservative; the ledger reports what each softmax loses.
 */
export const softmaxRule: BackwardRule = {
  name: 'softmax',
  backward: (ctx, g) => ctx.defaultBackward(g),
};
