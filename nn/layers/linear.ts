/** Linear layer in HF layout (weight [out, in]); GPT-2's Conv1D ([in, out]) is transposed on load. */
import { linear } from '../../autograd/ops/matmul.js';
import type { Tensor } from '../../autograd/tensor.js';
import { Module, type Parameter } from '../module.js';

export interface LinearOptions {
  bias?: boolean;
  /** Checkpoint stores [in, out] (GPT-2 Conv1D). */
  conv1d?: boolean;
}

export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(prefix: string, readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super(prefix);
    this.weight = this.parameter('weight', [outFeatures, inFeatures], { transposeOnLoad: options.conv1d ?? false });
    this.bias = options.bias === false ? null : this.parameter('bias', [outFeatures]);
  }

  forward(x: Tensor): Tensor {
    return this.scoped(() => linear(x, this.weight.value, this.bias?.value ?? null));
  }
}
