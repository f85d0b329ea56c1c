/**
 * A pre-LN causal self-attention layer built from the engine's ops, and its float64 reference:
 * x → LayerNorm → q, k, v Linear → softmax(q kᵀ / √d + causal mask) v → o Linear → + x
 * (the layout of `attention_block` in scripts/fixtures/make_ops.py; weights are HF [out, in]).
 */
import {
  Tensor,
  add,
  attentionContext,
  attentionScores,
  causalMask,
  layerNorm,
  linear,
  reshape,
  softmax,
  transpose,
} from '../../autograd/index.js';
import { refLinear, refMatmul, refTransposeLast } from '../../kernels/reference/matmul.js';
import { refLayerNorm } from '../../kernels/reference/norm.js';
import { refSoftmax } from '../../kernels/reference/softmax.js';
import { refMap, refPermute, type RefTensor } from '../../kernels/reference/tensor.js';

export const ATTENTION_PARAMS = [
  'ln_weight',
  'ln_bias',
  'q_weight',
  'q_bias',
  'k_weight',
  'k_bias',
  'v_weight',
  'v_bias',
  'o_weight',
  'o_bias',
] as const;
export type AttentionParamName = (typeof ATTENTION_PARAMS)[number];
export type AttentionParams<T> = Record<AttentionParamName, T>;

export interface AttentionOptions {
  heads: number;
  eps?: number;
  /** Replaces `softmax` on the masked scores (a custom op, say). */
  softmax?: (masked: Tensor) => Tensor;
  /** Applied to the probabilities before they meet v (`detach`, say). */
  probs?: (p: Tensor) => Tensor;
}

export interface AttentionTrace {
  out: Tensor;
  ln: Tensor;
  /** [B, H, T, d] */
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** Before the causal mask. */
  scores: Tensor;
  probs: Tensor;
  /** Heads merged back: [B, T, dim]. */
  context: Tensor;
}

/** One layer on the GPU; x is [B, T, dim]. */
export function attentionLayer(x: Tensor, p: AttentionParams<Tensor>, o: AttentionOptions): AttentionTrace {
  const [B, T, dim] = x.shape as [number, number, number];
  const d = dim / o.heads;
  const ln = layerNorm(x, p.ln_weight, p.ln_bias, o.eps ?? 1e-5);
  const split = (y: Tensor): Tensor => transpose(reshape(y, [B, T, o.heads, d]), 1, 2);
  const q = split(linear(ln, p.q_weight, p.q_bias));
  const k = split(linear(ln, p.k_weight, p.k_bias));
  const v = split(linear(ln, p.v_weight, p.v_bias));
  const scores = attentionScores(q, k, 1 / Math.sqrt(d));
  const masked = add(scores, causalMask(T));
  const probs = (o.softmax ?? softmax)(masked);
  const used = o.probs ? o.probs(probs) : probs;
  const context = reshape(transpose(attentionContext(used, v), 1, 2), [B, T, dim]);
  const out = add(x, linear(context, p.o_weight, p.o_bias));
  return { out, ln, q, k, v, scores, probs, context };
}

/**
 * The same layer in float64. `frozenProbs`, when given, replaces the probabilities (a constant:
 * finite differences through it give the gradient of the detached layer).
 */
export function refAttentionLayer(
  x: RefTensor,
  p: AttentionParams<RefTensor>,
  o: { heads: number; eps?: number; frozenProbs?: RefTensor },
): { out: RefTensor; probs: RefTensor } {
  const [B, T, dim] = x.shape as [number, number, number];
  const d = dim / o.heads;
  const ln = refLayerNorm(x, p.ln_weight, p.ln_bias, o.eps ?? 1e-5);
  const split = (y: RefTensor): RefTensor => refPermute({ shape: [B, T, o.heads, d], data: y.data }, [0, 2, 1, 3]);
  const q = split(refLinear(ln, p.q_weight, p.q_bias));
  const k = split(refLinear(ln, p.k_weight, p.k_bias));
  const v = split(refLinear(ln, p.v_weight, p.v_bias));
  const scores = refMatmul(q, refTransposeLast(k), 1 / Math.sqrt(d));
  const masked = refMap([scores], ([s]) => s!);
  masked.data.forEach((s, i) => {
    const key = i % T;
    const query = Math.floor(i / T) % T;
    masked.data[i] = key <= query ? s : -Infinity;
  });
  const probs = o.frozenProbs ?? refSoftmax(masked);
  const context = refPermute(refMatmul(probs, v), [0, 2, 1, 3]);
  const merged = { shape: [B, T, dim], data: context.data };
  const out = refMap([x, refLinear(merged, p.o_weight, p.o_bias)], ([a, b]) => a! + b!);
  return { out, probs };
}
