/**
 * ALiBi (Press et al. 2022; BLOOM): no positional vectors, a per-head linear penalty on the
 * attention logits instead, `A[h, i, j] = −m_h · (i − j)` for key j ≤ i (0 above the diagonal,
 * where the causal mask blocks anyway). The bias is a graph tensor [H, T, T] that each layer taps
 * as its own positional input (`layers.ℓ.alibi`), so an explanation can give it relevance, and it
 * enters the logits through the named op `positionBias`, which the LRP methods bind a rule to.
 *
 * Hugging Face's BLOOM adds `m_h · j` (the key's position) instead. The two differ by
 * `m_h · i`, a constant along each softmax row, so the attention probabilities and the logits are
 * identical; the relative form is the one the ALiBi paper states, and it gives the query's own key
 * (distance 0) no bias, so relevance on the bias is relevance on distance.
 */
import { add, mul } from '../../autograd/ops/elementwise.js';
import { sumToShape } from '../../autograd/ops/sumToShape.js';
import { reshape } from '../../autograd/ops/view.js';
import { defineOp } from '../../autograd/op.js';
import { Tensor } from '../../autograd/tensor.js';

/**
 * The head slopes: a geometric sequence 2^(−8/n), 2^(−16/n), … for n = the largest power of two
 * ≤ heads, then (for the remaining heads) every other term of the sequence for 2n.
 */
export function alibiSlopes(heads: number): number[] {
  if (!Number.isInteger(heads) || heads <= 0) throw new Error(`alibiSlopes: heads must be a positive integer, got ${heads}`);
  const power = 2 ** Math.floor(Math.log2(heads));
  const geometric = (n: number, k: number): number => 2 ** ((-8 * k) / n);
  const slopes = Array.from({ length: power }, (_, k) => geometric(power, k + 1));
  for (let k = 0; slopes.length < heads; k++) slopes.push(geometric(2 * power, 2 * k + 1));
  return slopes;
}

declare module '../../autograd/opTypes.js' {
  interface OpAttrs {
    /** `positionBias` has no attributes. */
    positionBias: undefined;
  }
}

/**
 * scores + bias, broadcasting the bias; a named op so that methods can state its rule. Its own
 * backward is the gradient of a sum: both addends receive ĝ (summed over broadcast dims).
 */
export const positionBias = defineOp({
  name: 'positionBias',
  role: 'sum',
  forward: ([scores, bias]) => add(scores!, bias!),
  backward: (ctx, g) => {
    const [scores, bias] = ctx.inputs as [Tensor, Tensor];
    return [ctx.needsGrad[0] ? sumToShape(g, scores.shape) : null, ctx.needsGrad[1] ? sumToShape(g, bias.shape) : null];
  },
});

/** ALiBi (BLOOM): per-head biases −m_h · distance on the attention scores instead of position embeddings. */
export class AlibiBias {
  /** m_h per head (`alibiSlopes`). */
  readonly slopes: number[];

  /** @param heads attention heads (one slope each) */
  constructor(readonly heads: number) {
    this.slopes = alibiSlopes(heads);
  }

  /**
   * A[h, i, j] = −m_h · (offset + i − j) for j ≤ offset + i, else 0: [H, T, offset + T], the
   * queries at positions offset … offset + T − 1 (after `offset` cached keys) over every key.
   */
  bias(T: number, offset = 0): Tensor {
    // −(i − j) on the host (T·S values), times the slopes on the GPU.
    const S = offset + T;
    const distance = new Float32Array(T * S);
    for (let i = 0; i < T; i++) for (let j = 0; j <= offset + i; j++) distance[i * S + j] = -(offset + i - j);
    const d = Tensor.fromArray(distance, [1, T, S]);
    const m = Tensor.fromArray(this.slopes, [this.heads, 1, 1]);
    const out = mul(m, d);
    d.dispose();
    m.dispose();
    return out;
  }
}

/** [H, T, S] bias → [1, H, 1, T, S], the layout of attention scores grouped by kv head. */
export function biasForScores(bias: Tensor): Tensor {
  const [H, T, S] = bias.shape as [number, number, number];
  return reshape(bias, [1, H, 1, T, S]);
}
