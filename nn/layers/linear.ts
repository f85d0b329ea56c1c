/** Linear layer in HF layout (weight [out, in]); GPT-2's Conv1D ([in, out]) is transposed on load. */
import { concat } from '../../autograd/ops/concat.js';
import { linear, linearOffering } from '../../autograd/ops/matmul.js';
import type { StoreActivation } from '../../kernels/elementwise.js';
import { takeResidual } from '../residual.js';
import { slice } from '../../autograd/ops/view.js';
import type { Tensor } from '../../autograd/tensor.js';
import { Module, type Parameter } from '../module.js';

/** Options of a `Linear` layer. */
export interface LinearOptions {
  /** Whether the layer has a bias; default true. */
  bias?: boolean;
  /** Checkpoint stores [in, out] (GPT-2 Conv1D). */
  conv1d?: boolean;
}

/** Options of one `Linear.forward` call. */
export interface LinearForwardOptions {
  /**
   * What the caller does next with the result: an activation, or (`'residual'`, for a sublayer's
   * output projection) add it to the residual stream of the enclosing `withResidual`. The product's
   * kernel stores that too and the caller's op takes it without a dispatch (`linearOffering`; the
   * graph is unchanged). Without an enclosing residual, `'residual'` does nothing.
   */
  then?: StoreActivation | 'residual';
}

/** y = x·Wᵀ + b over the last axis, W of shape [out, in] as Hugging Face stores it. */
export class Linear extends Module {
  /** W, [outFeatures, inFeatures]; row blocks when larger than one GPU binding. */
  readonly weight: Parameter;
  /** b, [outFeatures], or null without a bias. */
  readonly bias: Parameter | null;

  /**
   * @param prefix checkpoint prefix, e.g. `model.layers.0.mlp.up_proj`
   * @param inFeatures size of the input's last axis
   * @param outFeatures size of the output's last axis
   */
  constructor(prefix: string, readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super(prefix);
    this.weight = this.parameter('weight', [outFeatures, inFeatures], { transposeOnLoad: options.conv1d ?? false, halfStorage: true });
    this.bias = options.bias === false ? null : this.parameter('bias', [outFeatures]);
  }

  /**
   * Maps [..., inFeatures] → [..., outFeatures], recorded as the `linear` op (one per row block of a split weight).
   */
  forward(x: Tensor, options: LinearForwardOptions = {}): Tensor {
    return this.scoped(() => {
      const shards = this.weight.rowShards();
      const bias = this.bias?.value ?? null;
      const residual = options.then === 'residual' ? takeResidual() : null;
      const then = options.then === 'residual' ? (residual ? { residual } : null) : (options.then ?? null);
      if (shards.length === 1) return then ? linearOffering(x, shards[0]!, bias, then) : linear(x, shards[0]!, bias);
      // A weight larger than one GPU binding is stored as row blocks (output features): one product
      // per block with its slice of the bias, outputs side by side. Each output feature is computed
      // exactly as unsplit, so every rule (the ε-rule sees z = Wx + b) is unchanged.
      let start = 0;
      const parts = shards.map((w) => {
        const rows = w.shape[0]!;
        const part = linear(x, w, bias ? slice(bias, 0, start, start + rows) : null);
        start += rows;
        return part;
      });
      return concat(parts, -1);
    });
  }
}
