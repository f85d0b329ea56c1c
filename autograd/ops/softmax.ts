/**
 * Softmax and log-softmax over the last axis. `softmax` is its own op (not exp/sum/div) because
 * LRP rules override its backward by name.
 */
import { softmaxBackwardRows, softmaxRows } from '../../kernels/softmax.js';
import { defineOp } from '../op.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';
import { exp, mul, sub } from './elementwise.js';
import { sum } from './reduce.js';
import { reshape } from './view.js';

declare module '../opTypes.js' {
  interface OpAttrs {
    /** `softmax` (over the last dimension) has no attributes. */
    softmax: undefined;
    /** `logSoftmax` (over the last dimension) has no attributes. */
    logSoftmax: undefined;
  }
}

const softmaxOp = defineOp({
  name: 'softmax',
  role: 'softmax',
  forward: ([x]) => wrap(softmaxRows(x!, 'softmax')),
  // s ⊙ (g − Σ s⊙g), the sum over the row: one row kernel
  backward: (ctx, g) => [wrap(softmaxBackwardRows(ctx.output, g))],
});

const logSoftmaxOp = defineOp({
  name: 'logSoftmax',
  role: 'softmax',
  forward: ([x]) => wrap(softmaxRows(x!, 'logSoftmax')),
  // g − softmax(x)·Σ g
  backward: (ctx, g) => [sub(g, mul(exp(ctx.output), sum(g, -1, true)))],
});

/** A 0-d tensor is treated as one row of one element. */
function overLastAxis(op: (inputs: readonly Tensor[], attrs: undefined) => Tensor, x: Tensor): Tensor {
  if (x.rank > 0) return op([x], undefined);
  const row = reshape(x, [1]);
  const y = op([row], undefined);
  const out = reshape(y, []);
  row.dispose();
  y.dispose();
  return out;
}

/**
 * exp(x − max)/Σ exp(x − max) over the last axis. A row that is entirely −∞ (every position
 * masked with −∞) gives zeros instead of NaN, and its gradient is zero; rows masked with a
 * large finite negative (−3.4e38) behave as in PyTorch. Non-contiguous inputs are copied first.
 */
export function softmax(x: Tensor): Tensor {
  return overLastAxis(softmaxOp, x);
}

/** x − max − log Σ exp(x − max) over the last axis; a row that is entirely −∞ stays −∞. */
export function logSoftmax(x: Tensor): Tensor {
  return overLastAxis(logSoftmaxOp, x);
}
