/** Feed-forward blocks: GELU MLP (BERT, GPT-2, ViT) and the gated SwiGLU MLP (LLaMA family). */
import { gelu, geluTanh, silu } from '../../autograd/ops/elementwise.js';
import { gatedProduct } from '../../autograd/ops/products.js';
import type { Tensor } from '../../autograd/tensor.js';
import { Module } from '../module.js';
import { Linear } from './linear.js';
import type { StoreActivation } from '../../kernels/elementwise.js';
import { sharingPacksOf } from '../../kernels/matmul.js';

/**
 * The MLP activations, by their Hugging Face `hidden_act` names: `gelu` is the exact (erf) GELU, `gelu_new` and `gelu_pytorch_tanh` its tanh approximation.
 */
export type Activation = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'silu';

/** Applies the activation `kind` elementwise. */
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

/** The elementwise kernel each activation runs, which a linear layer's epilogue can store beside its result. */
const STORED: Record<Activation, StoreActivation> = { gelu: 'geluErf', gelu_new: 'geluTanh', gelu_pytorch_tanh: 'geluTanh', silu: 'silu' };

/** Every `Activation` (for validating configs). */
export const ACTIVATIONS: readonly Activation[] = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'silu'];

/** proj(act(fc(x))): the MLP of BERT, GPT-2 and ViT. */
export class GeluMlp extends Module {
  /** hidden → intermediate. */
  readonly fc: Linear;
  /** intermediate → hidden. */
  readonly proj: Linear;

  constructor(
    prefix: string,
    names: { fc: string; proj: string },
    hidden: number,
    intermediate: number,
    /** The activation between the two projections. */
    readonly activation: Activation,
    options: { bias?: boolean; conv1d?: boolean } = {},
  ) {
    super(prefix);
    this.fc = this.child(new Linear(this.join(names.fc), hidden, intermediate, options));
    this.proj = this.child(new Linear(this.join(names.proj), intermediate, hidden, options));
  }

  /** Maps [..., hidden] → [..., hidden]. */
  forward(x: Tensor): Tensor {
    // fc's kernel stores the activation too: the activation op below records without a dispatch.
    return this.scoped(() => this.proj.forward(activate(this.activation, this.fc.forward(x, { then: STORED[this.activation] })), { then: 'residual' }));
  }
}

/**
 * down(act(gate(x)) ⊙ up(x)): the gated (SwiGLU) MLP of the LLaMA family; the product is the `gatedProduct` op.
 */
export class GatedMlp extends Module {
  /** hidden → intermediate, through the activation. */
  readonly gate: Linear;
  /** hidden → intermediate, linear. */
  readonly up: Linear;
  /** intermediate → hidden. */
  readonly down: Linear;

  /** @param activation applied to the gate projection */
  constructor(prefix: string, hidden: number, intermediate: number, readonly activation: Activation, options: { bias?: boolean } = {}) {
    super(prefix);
    this.gate = this.child(new Linear(this.join('gate_proj'), hidden, intermediate, options));
    this.up = this.child(new Linear(this.join('up_proj'), hidden, intermediate, options));
    this.down = this.child(new Linear(this.join('down_proj'), intermediate, hidden, options));
  }

  /** Maps [..., hidden] → [..., hidden]. */
  forward(x: Tensor): Tensor {
    return this.scoped(() => {
      // Two products of the same x: its packing for the kernels is made once.
      const [gate, up] = sharingPacksOf(x.buffer, () => [this.gate.forward(x, { then: STORED[this.activation] }), this.up.forward(x)]);
      return this.down.forward(gatedProduct(activate(this.activation, gate), up), { then: 'residual' });
    });
  }
}
