/**
 * LayerNorm and RMSNorm over the last axis (forward: one row kernel; backward: tensor ops on
 * the GPU), and the row statistics the LRP layer uses for its "norm scale detached" rules.
 */
import { normRows, normScaleDetachedGrad, normStats } from '../../kernels/norm.js';
import { defineOp } from '../op.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';
import { mul, sub } from './elementwise.js';
import { mean } from './reduce.js';
import { sumToShape } from './sumToShape.js';

declare module '../opTypes.js' {
  interface OpAttrs {
    /** `layerNorm`'s attributes. */
    layerNorm: NormAttrs;
    /** `rmsNorm`'s attributes. */
    rmsNorm: NormAttrs;
  }
}

/** Attributes of LayerNorm and RMSNorm (one op body serves both). */
export interface NormAttrs {
  /** True for LayerNorm (subtract the mean), false for RMSNorm. */
  center: boolean;
  /** Added to the variance (mean square) before the square root. */
  eps: number;
  /** Whether a weight (γ) input follows x. */
  hasWeight: boolean;
  /** Whether a bias (β) input follows x (and the weight). */
  hasBias: boolean;
}

/** Splits the op's inputs back into x, weight, bias (absent ones are not inputs). */
function parts(inputs: readonly Tensor[], a: NormAttrs): { x: Tensor; weight: Tensor | null; bias: Tensor | null } {
  return { x: inputs[0]!, weight: a.hasWeight ? inputs[1]! : null, bias: a.hasBias ? inputs[a.hasWeight ? 2 : 1]! : null };
}

function opName(a: NormAttrs): string {
  return a.center ? 'layerNorm' : 'rmsNorm';
}

/**
 * With x̂ = (x − μ)·r (μ = 0 for RMSNorm) and g' = g ⊙ w:
 * g_x = r·(g' − mean(g') − x̂·mean(g' ⊙ x̂)) (no mean(g') term for RMSNorm),
 * g_w = Σ_rows g ⊙ x̂, g_b = Σ_rows g.
 */
function normBackward(inputs: readonly Tensor[], a: NormAttrs, needsGrad: readonly boolean[], g: Tensor): (Tensor | null)[] {
  const { x, weight, bias } = parts(inputs, a);
  const stats = normStats(opName(a), x, a.center, a.eps);
  const r = wrap(stats.rstd);
  const xhat = stats.mean ? mul(sub(x, wrap(stats.mean)), r) : mul(x, r);
  const grads: (Tensor | null)[] = [];
  if (needsGrad[0]) {
    const gw = weight ? mul(g, weight) : g;
    const centred = a.center ? sub(gw, mean(gw, -1, true)) : gw;
    grads.push(mul(r, sub(centred, mul(xhat, mean(mul(gw, xhat), -1, true)))));
  } else grads.push(null);
  if (weight) grads.push(needsGrad[1] ? sumToShape(mul(g, xhat), weight.shape) : null);
  if (bias) grads.push(needsGrad[weight ? 2 : 1] ? sumToShape(g, bias.shape) : null);
  return grads;
}

function defineNorm(name: 'layerNorm' | 'rmsNorm') {
  return defineOp({
    name,
    role: 'norm',
    forward: (inputs, a) => {
      const { x, weight, bias } = parts(inputs, a);
      return wrap(normRows(name, x, { center: a.center, eps: a.eps, weight, bias }));
    },
    backward: (ctx, g) => normBackward(ctx.inputs, ctx.attrs, ctx.needsGrad, g),
  });
}

const layerNormOp = defineNorm('layerNorm');
const rmsNormOp = defineNorm('rmsNorm');

/** (x − μ)/sqrt(var + eps)·w + b over the last axis, population variance; weight and bias are [n] or null. */
export function layerNorm(x: Tensor, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return layerNormOp(inputs, { center: true, eps, hasWeight: !!weight, hasBias: !!bias });
}

/** x·rsqrt(mean(x²) + eps)·w over the last axis (Hugging Face LLaMA semantics); weight is [n] or null. */
export function rmsNorm(x: Tensor, weight: Tensor | null = null, eps = 1e-6): Tensor {
  const inputs = weight ? [x, weight] : [x];
  return rmsNormOp(inputs, { center: false, eps, hasWeight: !!weight, hasBias: false });
}

/**
 * LayerNorm's row statistics, shaped [..., 1]: `mean` and `rstd` = rsqrt(var + eps). The results
 * are constants (no graph, no gradient), which is what "norm scale detached" rules want.
 */
export function layerNormStats(x: Tensor, eps = 1e-5): { mean: Tensor; rstd: Tensor } {
  const s = normStats('layerNormStats', x, true, eps);
  return { mean: wrap(s.mean!), rstd: wrap(s.rstd) };
}

/** RMSNorm's scale rsqrt(mean(x²) + eps), shaped [..., 1]; a constant, like `layerNormStats`. */
export function rmsNormScale(x: Tensor, eps = 1e-6): Tensor {
  return wrap(normStats('rmsNormScale', x, false, eps).rstd);
}

/**
 * The input gradient of LayerNorm (`center`) or RMSNorm with the normalising scale r held
 * constant: r ⊙ (g ⊙ w − mean(g ⊙ w)) (no centring for RMSNorm), one row kernel, not recorded
 * (for backward rules). r is recomputed from `x` as the forward computed it. With `addend` (x's
 * shape) the result is addend + that gradient, in the same kernel.
 */
export function normGradScaleDetached(x: Tensor, g: Tensor, weight: Tensor | null, center: boolean, eps: number, addend: Tensor | null = null): Tensor {
  return wrap(normScaleDetachedGrad(x, g, { center, eps, weight, addend }));
}
