/** LayerNorm (with optional bias) and RMSNorm modules over the last axis. */
import { layerNorm, rmsNorm } from '../../autograd/ops/norm.js';
import type { Tensor } from '../../autograd/tensor.js';
import { Module, type Parameter } from '../module.js';

/** LayerNorm over the last axis: (x − mean) / √(var + eps) · weight + bias. */
export class LayerNorm extends Module {
  /** Scale γ, [size]. */
  readonly weight: Parameter;
  /** Shift β, [size]; null for bias-free LayerNorms. */
  readonly bias: Parameter | null;

  /** @param eps added to the variance, as in the checkpoint's config */
  constructor(prefix: string, size: number, readonly eps: number, options: { bias?: boolean } = {}) {
    super(prefix);
    this.weight = this.parameter('weight', [size]);
    this.bias = options.bias === false ? null : this.parameter('bias', [size]);
  }

  /** Normalises [..., size] → [..., size], recorded as the `layerNorm` op. */
  forward(x: Tensor): Tensor {
    return this.scoped(() => layerNorm(x, this.weight.value, this.bias?.value ?? null, this.eps));
  }
}

/** RMSNorm over the last axis: x / √(mean(x²) + eps) · weight (LLaMA family, Qwen3's q/k norms). */
export class RMSNorm extends Module {
  /** Scale γ, [size]. */
  readonly weight: Parameter;

  /** @param eps added to the mean square, as in the checkpoint's config */
  constructor(prefix: string, size: number, readonly eps: number) {
    super(prefix);
    this.weight = this.parameter('weight', [size]);
  }

  /** Normalises [..., size] → [..., size], recorded as the `rmsNorm` op. */
  forward(x: Tensor): Tensor {
    return this.scoped(() => rmsNorm(x, this.weight.value, this.eps));
  }
}
