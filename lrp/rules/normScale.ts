/**
 * LayerNorm / RMSNorm with the normalising scale detached (CP-LRP's LN rule; AttnLRP's identity
 * treatment of the norm): y = (x − μ)·r·w + b with r = rsqrt(var + ε) held constant, so the norm
 * is linear in x. Gradient form: g_x = r·(g' − mean(g')) with g' = g ⊙ w (no centring for
 * RMSNorm); the bias, when it requires grad, receives Σ g. Conservative up to the bias share.
 * The gradient x has accumulated before (its other consumers') is folded into the kernel's output
 * (`BackwardContext.takeAccumulatedGrad`), so the residual stream costs no separate add.
 */
import type { BackwardRule } from '../../autograd/graph.js';
import { normGradScaleDetached, type NormAttrs } from '../../autograd/ops/norm.js';
import { sumToShape } from '../../autograd/ops/sumToShape.js';
import type { Tensor } from '../../autograd/tensor.js';

/**
 * LayerNorm / RMSNorm with the normalising scale rsqrt(var + ε) held constant, so the norm is
 * linear in x (CP-LRP's LN rule, AttnLRP's treatment of norms); conservative up to the bias share.
 */
export const normScaleDetachedRule: BackwardRule<NormAttrs> = {
  name: 'norm-scale-detached',
  backward: (ctx, g) => {
    const { center, eps, hasWeight, hasBias } = ctx.attrs;
    const x = ctx.inputs[0]!;
    const weight = hasWeight ? ctx.inputs[1]! : null;
    // r·(g ⊙ w − mean(g ⊙ w)) in one row kernel (statistics included), plus whatever x has
    // already received (the residual stream's identity path) in the same kernel.
    const prior = ctx.needsGrad[0] ? (ctx.takeAccumulatedGrad?.(0) ?? null) : null;
    const grads: (Tensor | null)[] = [ctx.needsGrad[0] ? normGradScaleDetached(x, g, weight, center, eps, prior) : null];
    if (hasWeight) grads.push(null);
    if (hasBias) {
      const bias = ctx.inputs[hasWeight ? 2 : 1]!;
      grads.push(ctx.needsGrad[hasWeight ? 2 : 1] ? sumToShape(g, bias.shape) : null);
    }
    return grads;
  },
};
