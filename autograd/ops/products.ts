/**
 * Named elementwise products. `gatedProduct(act(gate), up)` computes the same as `mul`, but under
 * its own op name, so explanation methods can give the gate of a gated MLP its own rule (CP-LRP
 * detaches the gate; AttnLRP splits relevance uniformly) without touching other products.
 */
import { elementwise } from '../../kernels/elementwise.js';
import { defineOp } from '../op.js';
import type { Tensor } from '../tensor.js';
import { mul } from './elementwise.js';
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
  backward: (ctx, g) => {
    const [gate, up] = ctx.inputs as [Tensor, Tensor];
    return [
      ctx.needsGrad[0] ? sumToShape(mul(g, up), gate.shape) : null,
      ctx.needsGrad[1] ? sumToShape(mul(g, gate), up.shape) : null,
    ];
  },
  // The uniform rule's ½ folded into the two products (no separate halving of g).
  backwardScaled: (ctx, g, factor) => {
    const [gate, up] = ctx.inputs as [Tensor, Tensor];
    return [
      ctx.needsGrad[0] ? sumToShape(scaledProduct(g, up, factor), gate.shape) : null,
      ctx.needsGrad[1] ? sumToShape(scaledProduct(g, gate, factor), up.shape) : null,
    ];
  },
});

/** gate ⊙ up, as the op `gatedProduct`. */
export function gatedProduct(gate: Tensor, up: Tensor): Tensor {
  return gatedProductOp([gate, up], undefined);
}
