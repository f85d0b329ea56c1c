/**
 * Named elementwise products. `gatedProduct(act(gate), up)` computes the same as `mul`, but under
 * its own op name, so explanation methods can give the gate of a gated MLP its own rule (CP-LRP
 * detaches the gate; AttnLRP splits relevance uniformly) without touching other products.
 */
import { elementwise } from '../../kernels/elementwise.js';
import { defineOp } from '../op.js';
import type { Tensor } from '../tensor.js';
import { sumToShape } from './sumToShape.js';
import { scaledProduct } from './scaledProduct.js';
import { wrap } from './wrap.js';

declare module '../opTypes.js' {
  interface OpAttrs {
    /** `gatedProduct` has no attributes. */
    gatedProduct: undefined;
  }
}

const gatedProductOp = defineOp({
  name: 'gatedProduct',
  role: 'product',
  forward: ([gate, up]) => wrap(elementwise('mul', [gate!, up!])),
  backward: (ctx, g) => gatedProductGrads(ctx.inputs as [Tensor, Tensor], ctx.needsGrad, g, 1),
  // The uniform rule's ½ folded into the two products (no separate halving of g).
  backwardScaled: (ctx, g, factor) => gatedProductGrads(ctx.inputs as [Tensor, Tensor], ctx.needsGrad, g, factor),
});

/** The gate's and up's gradients for the incoming gradient factor · g. */
function gatedProductGrads([gate, up]: [Tensor, Tensor], needsGrad: readonly boolean[], g: Tensor, factor: number): (Tensor | null)[] {
  return [
    needsGrad[0] ? sumToShape(scaledProduct(g, up, factor), gate.shape) : null,
    needsGrad[1] ? sumToShape(scaledProduct(g, gate, factor), up.shape) : null,
  ];
}

/** gate ⊙ up, as the op `gatedProduct`. */
export function gatedProduct(gate: Tensor, up: Tensor): Tensor {
  return gatedProductOp([gate, up], undefined);
}
