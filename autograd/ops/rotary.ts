/**
 * Rotary position embedding (HF rotate-half layout) and its tables. The forward is one fused
 * dispatch; the backward gives gradients to x, cos AND sin, because positional attribution in LRP
 * needs relevance flowing into the tables.
 */
import { rotary as rotaryKernel, rotaryTableGrads, checkRotary } from '../../kernels/rotary.js';
import { isDenseLayout } from '../../kernels/shape.js';
import { defineOp } from '../op.js';
import { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';
import { concat } from './concat.js';
import { neg } from './elementwise.js';
import { slice } from './view.js';

declare module '../opTypes.js' {
  interface OpAttrs {
    /** `rotary` has no attributes (cos and sin are inputs). */
    rotary: undefined;
  }
}

/** concat(−x[..., R/2:], x[..., :R/2]) over the last dim of size R (even). */
export function rotateHalf(x: Tensor): Tensor {
  const R = x.shape[x.rank - 1];
  if (R === undefined || R % 2 !== 0) throw new Error(`rotateHalf: the last dim must be even, got ${x.toString()}`);
  const upper = slice(x, -1, R / 2, R);
  const lower = slice(x, -1, 0, R / 2);
  const negUpper = neg(upper);
  const out = concat([negUpper, lower], -1);
  for (const t of [upper, lower, negUpper]) t.dispose();
  return out;
}

const rotaryOp = defineOp({
  name: 'rotary',
  role: 'positional',
  forward: ([x, cos, sin]) => wrap(rotaryKernel(x!, cos!, sin!)),
  backward: (ctx, g) => rotaryGrads(ctx.inputs as [Tensor, Tensor, Tensor], ctx.needsGrad, g, 1),
  // The uniform rule's ½ folded into the adjoint kernel and the table products.
  backwardScaled: (ctx, g, factor) => rotaryGrads(ctx.inputs as [Tensor, Tensor, Tensor], ctx.needsGrad, g, factor),
});

/** The gradients of x, cos and sin for the incoming gradient `factor`·g. */
function rotaryGrads([x, cos, sin]: [Tensor, Tensor, Tensor], [needX, needCos, needSin]: readonly boolean[], g: Tensor, factor: number): (Tensor | null)[] {
  // g_x = g ⊙ cos + rotateHalfᵀ(g ⊙ sin): the same fused kernel in its adjoint form, written in
  // x's memory order when x is a dense permuted view (q and k as [B, H, T, D] views of the
  // projections' [B, T, H·D]), so the gradient goes back through that permute and reshape as views.
  const layout = isDenseLayout(x.shape, x.strides) ? x.strides : undefined;
  const gx = needX ? wrap(rotaryKernel(g, cos, sin, true, 'rotary', factor, layout)) : null;
  if (!needCos && !needSin) return [gx, null, null];
  // Σ g ⊙ x and Σ g ⊙ rotateHalf(x) over the first R features, summed to the tables' shape: one dispatch.
  const tables = rotaryTableGrads(g, x, cos.shape, factor);
  const [gcos, gsin] = [wrap(tables.gcos), wrap(tables.gsin)];
  if (!needCos) gcos.dispose();
  if (!needSin) gsin.dispose();
  return [gx, needCos ? gcos : null, needSin ? gsin : null];
}

/**
 * out = x ⊙ cos + rotateHalf(x) ⊙ sin on the first R features of x's last dim D (R = cos.shape[-1]
 * ≤ D; the remaining D − R features pass through unchanged, as in partial rotary). x is
 * [..., T, D]; cos and sin are [T, R] or any shape broadcasting against x's leading dims.
 */
export function rotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  checkRotary('rotary', x, cos, sin);
  return rotaryOp([x, cos, sin], undefined);
}

/** Options of `rotaryTables` beyond the standard RoPE angles. */
export interface RotaryTableOptions {
  /**
   * Reproduce PyTorch's float32 arithmetic (inv_freq, then position · inv_freq rounded to f32
   * before cos/sin), as HF's LlamaRotaryEmbedding computes it. Default false: the angles are
   * exact float64 values and only cos/sin are rounded to f32. The two differ visibly only at
   * large positions (an f32 angle near 4000 is off by up to ~1e-4).
   */
  float32Angles?: boolean;
  /** Inverse frequencies (R/2 of them) replacing 1 / theta^(2i/R), e.g. from a `rope_scaling` type. */
  invFreq?: readonly number[];
  /** Multiplies cos and sin (the attention scaling of YaRN); default 1. */
  scale?: number;
}

/**
 * HF LLaMA rotary tables, computed on the host in float64 and uploaded as f32 [T, R]:
 * R = floor(dim · partialFactor), inv_freq[i] = 1 / theta^(2i / R), emb = concat(freqs, freqs),
 * cos = cos(emb), sin = sin(emb). `positions` is a list of positions or a length T for 0..T−1.
 */
export function rotaryTables(
  positions: readonly number[] | number,
  dim: number,
  theta = 10000,
  partialFactor = 1,
  options: RotaryTableOptions = {},
): { cos: Tensor; sin: Tensor } {
  const pos = typeof positions === 'number' ? Array.from({ length: positions }, (_, i) => i) : positions;
  const R = Math.floor(dim * partialFactor);
  if (!Number.isInteger(dim) || dim <= 0 || R <= 0 || R % 2 !== 0) {
    throw new Error(`rotaryTables: dim ${dim} × partialFactor ${partialFactor} must give an even rotary width, got ${R}`);
  }
  const f32 = options.float32Angles ? Math.fround : (v: number): number => v;
  const half = R / 2;
  if (options.invFreq && options.invFreq.length !== half) throw new Error(`rotaryTables: invFreq has ${options.invFreq.length} values, expected ${half}`);
  const invFreq = options.invFreq?.map(f32) ?? Array.from({ length: half }, (_, i) => f32(1 / f32(theta ** f32((2 * i) / R))));
  const k = options.scale ?? 1;
  const cos = new Float32Array(pos.length * R);
  const sin = new Float32Array(pos.length * R);
  pos.forEach((p, t) => {
    for (let i = 0; i < half; i++) {
      const angle = f32(f32(p) * invFreq[i]!);
      cos[t * R + i] = cos[t * R + half + i] = Math.cos(angle) * k;
      sin[t * R + i] = sin[t * R + half + i] = Math.sin(angle) * k;
    }
  });
  return { cos: Tensor.fromArray(cos, [pos.length, R]), sin: Tensor.fromArray(sin, [pos.length, R]) };
}
