/** LayerNorm (with optional bias) and RMSNorm modules over the last axis. */
import { layerNorm, rmsNorm } from '../../autograd/ops/norm.js';
import type { Tensor } from '../../autograd/tensor.js';
import { Module, type Parameter } from '../module.js';

export class LayerNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(prefix: string, size: number, readonly eps: number, options: { bias?: boolean } = {}) {
    super(prefix);
    this.weight = this.parameter('weight', [size]);
    this.bias = options.bias === false ? null : this.parameter('bias', [size]);
  }

  forward(x: Tensor): Tensor {
    return this.scoped(() => layerNorm(x, this.weight.value, this.bias?.value ?? null, this.eps));
  }
}

export class RMSNorm extends Module {
  readonly weight: Parameter;

  constructor(prefix: string, size: number, readonly eps: number) {
    super(prefix);
    this.weight = this.parameter('weight', [size]);
  }

  forward(x: Tensor): Tensor {
    return this.scoped(() => rmsNorm(x, this.weight.value, this.eps));
  }
}
