/** The language-model head: logits = x · Wᵀ over a [V, D] matrix that may be stored in row blocks. */
import { concat } from '../../autograd/ops/concat.js';
import { linear } from '../../autograd/ops/matmul.js';
import type { Tensor } from '../../autograd/tensor.js';
import type { Parameter } from '../module.js';

export function lmHead(x: Tensor, weight: Parameter): Tensor {
  const shards = weight.rowShards();
  if (shards.length === 1) return linear(x, shards[0]!, null);
  return concat(shards.map((w) => linear(x, w, null)), -1);
}
