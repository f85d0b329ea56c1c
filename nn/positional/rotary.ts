/**
 * Rotary position embeddings (LLaMA, rotate-half layout). The cos/sin tables are graph tensors:
 * each layer taps its own pair, so an explanation can give every layer's positions relevance.
 */
import { InputError } from '../../kernels/errors.js';
import { concat } from '../../autograd/ops/concat.js';
import { rotary, rotaryTables } from '../../autograd/ops/rotary.js';
import { slice } from '../../autograd/ops/view.js';
import type { Tensor } from '../../autograd/tensor.js';
import { tap } from '../taps.js';
import type { PositionRotation } from '../layers/attention.js';
import { ropeFrequencies, scaledMaxPositions, type RopeScaling } from './rope-scaling.js';

/**
 * Rotary position embeddings (rotate-half): per-sequence cos/sin tables, tapped per layer so every layer's positions can receive relevance.
 */
export class RotaryEmbedding {
  /** Dimensions of each head that rotate (partial rotary rotates the first ones only). */
  readonly rotaryDim: number;

  /** Longest sequence accepted: max_position_embeddings, extended by dynamic scaling. */
  readonly maxPositions: number;

  /**
   * @param headDim size of one attention head
   * @param theta rotary base (`rope_theta`)
   * @param maxPositions `max_position_embeddings` (dynamic scaling may extend it)
   * @param partialFactor share of each head's dims that rotate
   * @param scaling `rope_scaling`, parsed
   */
  constructor(
    readonly headDim: number,
    readonly theta: number,
    maxPositions: number,
    partialFactor = 1,
    readonly scaling: RopeScaling = { type: 'default' },
  ) {
    this.rotaryDim = Math.floor(headDim * partialFactor);
    if (this.rotaryDim % 2 !== 0 || this.rotaryDim === 0) throw new InputError(`rotary dimension ${this.rotaryDim} must be even and positive`);
    this.maxPositions = scaledMaxPositions(scaling, maxPositions);
  }

  /**
   * cos and sin for positions offset…offset+T−1, each [T, rotaryDim] (the frequencies of a
   * sequence of offset + T positions); throws an InputError beyond `maxPositions`.
   */
  tables(T: number, offset = 0): { cos: Tensor; sin: Tensor } {
    const length = offset + T;
    if (length > this.maxPositions) throw new InputError(`sequence of ${length} positions is longer than max_position_embeddings (${this.maxPositions})`);
    const { invFreq, attentionScale } = ropeFrequencies(this.scaling, this.rotaryDim, this.theta, length);
    const positions = offset === 0 ? T : Array.from({ length: T }, (_, i) => offset + i);
    return rotaryTables(positions, this.rotaryDim, this.theta, 1, { invFreq, scale: attentionScale });
  }

  /**
   * Whether keys rotated in earlier, shorter forwards stay valid up to `length` positions: true
   * unless dynamic NTK scaling changes the frequencies with the sequence length (beyond the
   * original context), which a key/value cache cannot follow.
   */
  cacheable(length: number): boolean {
    return this.scaling.type !== 'dynamic' || length <= this.scaling.originalMax;
  }

  /** The rotation for one layer: taps that layer's cos and sin as positional inputs. */
  rotation(layer: string, tables: { cos: Tensor; sin: Tensor }): PositionRotation {
    const cos = tap('position', `${layer}.rotary.cos`, tables.cos);
    const sin = tap('position', `${layer}.rotary.sin`, tables.sin);
    const apply = (x: Tensor): Tensor => {
      if (this.rotaryDim === this.headDim) return rotary(x, cos, sin);
      const rotated = rotary(slice(x, -1, 0, this.rotaryDim), cos, sin);
      return concat([rotated, slice(x, -1, this.rotaryDim)], -1);
    };
    return (q, k) => ({ q: apply(q), k: apply(k) });
  }
}
