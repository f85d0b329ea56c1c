/** Feed-forward blocks: GELU MLP (BERT, GPT-2, ViT) and the gated SwiGLU MLP (LLaMA family). */
import { gelu, geluTanh, silu } from '../../autograd/ops/elementwise.js';
import { gatedProduct } from '../../autograd/ops/products.js';
import type { Tensor } from '../../autograd/tensor.js';
import { Module } from '../module.js';
import { Linear } from './linear.js';

export type Activation = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'silu';

export function activate(kind: Activation, x: Tensor): Tensor {
  switch (kind) {
    case 'gelu':
      return gelu(x);
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return geluTanh(x);
    case 'silu':
      return silu(x);
  }
}

export const ACTIVATIONS: readonly Activation[] = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'silu'];

export class GeluMlp extends Module {
  readonly fc: Linear;
  readonly proj: Linear;

  constructor(
    prefix: string,
    names: { fc: string; proj: string },
    hidden: number,
    intermediate: number,
    readonly activation: Activation,
    options: { bias?: boolean; conv1d?: boolean } = {},
  ) {
    super(prefix);
    this.fc = this.child(new Linear(this.join(names.fc), hidden, intermediate, options));
    this.proj = this.child(new Linear(this.join(names.proj), intermediate, hidden, options));
  }

  forward(x: Tensor): Tensor {
    return this.scoped(() => this.proj.forward(activate(this.activation, this.fc.forward(x))));
  }
}

export class GatedMlp extends Module {
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;

  constructor(prefix: string, hidden: number, intermediate: number, readonly activation: Activation, options: { bias?: boolean } = {}) {
    super(prefix);
    this.gate = this.child(new Linear(this.join('gate_proj'), hidden, intermediate, options));
    this.up = this.child(new Linear(this.join('up_proj'), hidden, intermediate, options));
    this.down = this.child(new Linear(this.join('down_proj'), intermediate, hidden, options));
  }

  forward(x: Tensor): Tensor {
    return this.scoped(() => this.down.forward(gatedProduct(activate(this.activation, this.gate.forward(x)), this.up.forward(x))));
  }
}
