/**
 * Multi-head self-attention with grouped-query heads. Queries are grouped as
 * [B, Hkv, G, T, D] so keys and values [B, Hkv, 1, S, D] broadcast over the G query heads that
 * share them, without copying. The products and the softmax are the named ops LRP rules target.
 */
import { InputError } from '../../kernels/errors.js';
import { sharingPacksOf } from '../../kernels/matmul.js';
import { add } from '../../autograd/ops/elementwise.js';
import { attentionContext, attentionScores, attentionScoresOffering } from '../../autograd/ops/matmul.js';
import { softmax } from '../../autograd/ops/softmax.js';
import { permute, reshape, slice, unsqueeze } from '../../autograd/ops/view.js';
import type { Tensor } from '../../autograd/tensor.js';
import { Module } from '../module.js';
import { tap } from '../taps.js';
import { Linear } from './linear.js';
import { RMSNorm } from './norm.js';
import { biasForScores, positionBias } from '../positional/alibi.js';
import type { LayerKvCache } from './kv-cache.js';

/** Head geometry of an attention layer. */
export interface AttentionShape {
  /** Model width (input and output size). */
  hidden: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (fewer than `heads` for grouped-query attention; must divide it). */
  kvHeads: number;
  /** Size of one head. */
  headDim: number;
}

/** Checkpoint names of the projections, relative to the attention module's prefix. */
export type ProjectionNames =
  | {
      /** Query projection, e.g. `q_proj`. */
      q: string;
      /** Key projection. */
      k: string;
      /** Value projection. */
      v: string;
      /** Output projection. */
      o: string;
    }
  | {
      /** One projection giving q, k and v (GPT-2's `c_attn`, BLOOM's `query_key_value`). */
      qkv: string;
      /** Output projection. */
      o: string;
    };

/** How a family's attention is laid out in its checkpoint. */
export interface AttentionOptions {
  /** Checkpoint names of the projections. */
  names: ProjectionNames;
  /** Whether the q/k/v projections have biases. */
  qkvBias: boolean;
  /** Whether the output projection has a bias. */
  outBias: boolean;
  /** GPT-2's Conv1D layout ([in, out], transposed on load). */
  conv1d?: boolean;
  /**
   * Layout of a fused q/k/v projection's outputs: `blocks` = [all q | all k | all v] (GPT-2),
   * `per-head` = for each head its q, k, v in turn (BLOOM's [H, 3, D]).
   */
  fusedLayout?: 'blocks' | 'per-head';
  /** Qwen3: RMSNorm over each head's dims of q and k (`q_norm`, `k_norm`), before rotary. */
  qkNorm?: {
    /** The norms' epsilon (`rms_norm_eps`). */
    eps: number;
  };
}

/** Rotates queries and keys by position (rotary embeddings); called with per-layer tables. */
export type PositionRotation = (
  q: Tensor,
  k: Tensor,
) => {
  /** The rotated queries. */
  q: Tensor;
  /** The rotated keys. */
  k: Tensor;
};

/**
 * Multi-head self-attention with grouped-query heads; the score and context products
 * (`attentionScores`, `attentionContext`) and the softmax are the ops LRP rules target.
 */
export class SelfAttention extends Module {
  /** Query projection (null when fused into `qkv`). */
  readonly q: Linear | null = null;
  /** Key projection (null when fused into `qkv`). */
  readonly k: Linear | null = null;
  /** Value projection (null when fused into `qkv`). */
  readonly v: Linear | null = null;
  /** The fused q/k/v projection (GPT-2, BLOOM), else null. */
  readonly qkv: Linear | null = null;
  /** Output projection. */
  readonly o: Linear;
  /** Qwen3's per-head RMSNorm of the queries, else null. */
  readonly qNorm: RMSNorm | null = null;
  /** Qwen3's per-head RMSNorm of the keys, else null. */
  readonly kNorm: RMSNorm | null = null;

  /** How a fused projection's outputs are ordered (see `AttentionOptions.fusedLayout`). */
  readonly fusedLayout: 'blocks' | 'per-head';

  /** @param shape head geometry (throws an InputError when `kvHeads` does not divide `heads`) */
  constructor(prefix: string, readonly shape: AttentionShape, options: AttentionOptions) {
    super(prefix);
    this.fusedLayout = options.fusedLayout ?? 'blocks';
    const { hidden, heads, kvHeads, headDim } = shape;
    if (heads % kvHeads !== 0) throw new InputError(`${prefix}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
    const bias = { bias: options.qkvBias, conv1d: options.conv1d ?? false };
    const names = options.names;
    if ('qkv' in names) {
      this.qkv = this.child(new Linear(this.join(names.qkv), hidden, (heads + 2 * kvHeads) * headDim, bias));
    } else {
      this.q = this.child(new Linear(this.join(names.q), hidden, heads * headDim, bias));
      this.k = this.child(new Linear(this.join(names.k), hidden, kvHeads * headDim, bias));
      this.v = this.child(new Linear(this.join(names.v), hidden, kvHeads * headDim, bias));
    }
    this.o = this.child(new Linear(this.join(names.o), heads * headDim, hidden, { bias: options.outBias, conv1d: options.conv1d ?? false }));
    if (options.qkNorm) {
      this.qNorm = this.child(new RMSNorm(this.join('q_norm'), headDim, options.qkNorm.eps));
      this.kNorm = this.child(new RMSNorm(this.join('k_norm'), headDim, options.qkNorm.eps));
    }
  }

  /**
   * Attends over the sequence: [B, T, hidden] → [B, T, hidden].
   *
   * @param x [B, T, hidden]
   * @param mask additive mask broadcastable to [B, 1, T, S] (HF layout), or null
   * @param rotate rotary position rotation of q and k, or null for additive-PE models
   * @param scoreBias positional bias added to the scaled logits through `positionBias` (ALiBi),
   *   [H, T, S]; null for other models
   * @param cache generation only: the layer's key/value cache; x holds the new positions, whose
   *   keys and values are appended, and the queries attend over all S cached ones (mask and
   *   scoreBias then cover [T, S])
   */
  forward(x: Tensor, mask: Tensor | null, rotate: PositionRotation | null, scoreBias: Tensor | null = null, cache: LayerKvCache | null = null): Tensor {
    return this.scoped(() => this.attend(x, mask, rotate, scoreBias, cache));
  }

  private attend(x: Tensor, mask: Tensor | null, rotate: PositionRotation | null, scoreBias: Tensor | null, cache: LayerKvCache | null): Tensor {
    const { heads, kvHeads, headDim } = this.shape;
    const [B, T] = x.shape as [number, number];
    let q: Tensor;
    let k: Tensor;
    let v: Tensor;
    if (this.qkv && this.fusedLayout === 'per-head') {
      if (kvHeads !== heads) throw new Error(`${this.prefix}: a per-head fused q/k/v needs as many kv heads as heads`);
      const fused = reshape(this.qkv.forward(x), [B, T, heads, 3, headDim]);
      const part = (i: number): Tensor => reshape(slice(fused, 3, i, i + 1), [B, T, heads * headDim]);
      q = part(0);
      k = part(1);
      v = part(2);
    } else if (this.qkv) {
      // Sliced per head ([B, T, heads, D] views): the slices' gradients then land in the fused
      // layout directly, with no copy back from the permuted heads.
      const fused = reshape(this.qkv.forward(x), [B, T, heads + 2 * kvHeads, headDim]);
      q = slice(fused, 2, 0, heads);
      k = slice(fused, 2, heads, heads + kvHeads);
      v = slice(fused, 2, heads + kvHeads);
    } else {
      // Three products of the same x: its packing for the kernels is made once.
      [q, k, v] = sharingPacksOf(x.buffer, () => [this.q!.forward(x), this.k!.forward(x), this.v!.forward(x)]);
    }
    // [B, T, H·D] → [B, T, H, D] (per-head norms here) → [B, H, T, D]
    q = reshape(q, [B, T, heads, headDim]);
    k = reshape(k, [B, T, kvHeads, headDim]);
    if (this.qNorm) q = this.qNorm.forward(q);
    if (this.kNorm) k = this.kNorm.forward(k);
    q = permute(q, [0, 2, 1, 3]);
    k = permute(k, [0, 2, 1, 3]);
    v = permute(reshape(v, [B, T, kvHeads, headDim]), [0, 2, 1, 3]);
    if (rotate) ({ q, k } = rotate(q, k));
    if (cache) ({ k, v } = cache.append(k, v));
    const groups = heads / kvHeads;
    const q5 = reshape(q, [B, kvHeads, groups, T, headDim]);
    const k5 = unsqueeze(k, 2);
    const v5 = unsqueeze(v, 2);
    const mask5 = mask ? unsqueeze(mask, 2) : null;
    // Without a positional bias in between, the scores' kernel also stores scores + mask, which the
    // `add` below takes without a dispatch of its own (the graph keeps both nodes).
    let scores =
      mask5 && !scoreBias ? attentionScoresOffering(q5, k5, 1 / Math.sqrt(headDim), mask5) : attentionScores(q5, k5, 1 / Math.sqrt(headDim));
    if (scoreBias) scores = positionBias([scores, biasForScores(scoreBias)], undefined);
    if (mask5) scores = add(scores, mask5);
    scores = tap('softmax-input', `${this.prefix}.softmax`, scores);
    const probs = tap('softmax-output', `${this.prefix}.softmax`, softmax(scores));
    // [B, Hkv, G, T, D], stored as [B, T, Hkv, G, D]: the merge below is then a view, not a copy.
    const context = attentionContext(probs, v5, [0, 3, 1, 2, 4]);
    const merged = reshape(permute(reshape(context, [B, heads, T, headDim]), [0, 2, 1, 3]), [B, T, heads * headDim]);
    return this.o.forward(merged, { then: 'residual' });
  }
}
