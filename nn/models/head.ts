/** The language-model head: logits = x · Wᵀ over a [V, D] matrix that may be stored in row blocks. */
import { concat } from '../../autograd/ops/concat.js';
import { linear } from '../../autograd/ops/matmul.js';
import { slice } from '../../autograd/ops/view.js';
import type { Tensor } from '../../autograd/tensor.js';
import { InputError } from '../../kernels/errors.js';
import type { Parameter } from '../module.js';

export function lmHead(x: Tensor, weight: Parameter): Tensor {
  const shards = weight.rowShards();
  if (shards.length === 1) return linear(x, shards[0]!, null);
  return concat(shards.map((w) => linear(x, w, null)), -1);
}

/**
 * The logits of the vocabulary ids `ids` only, [..., ids.length], each by its own product with one
 * row of W (a view, not a copy). What an explanation differentiates: a backward from these reads
 * those rows of the head, not the whole [V, D] matrix that `lmHead` multiplies.
 */
export function lmHeadRows(x: Tensor, weight: Parameter, ids: readonly number[]): Tensor {
  const shards = weight.rowShards();
  const rows = ids.map((id) => {
    if (!Number.isInteger(id) || id < 0 || id >= weight.spec.shape[0]!) {
      throw new InputError(`lm head: vocabulary id ${id} is out of range (the head has ${weight.spec.shape[0]} rows)`);
    }
    let first = 0;
    for (const shard of shards) {
      const n = shard.shape[0]!;
      if (id < first + n) return linear(x, slice(shard, 0, id - first, id - first + 1), null);
      first += n;
    }
    throw new Error(`lm head: row blocks of ${weight.spec.name} end before row ${id}`);
  });
  return rows.length === 1 ? rows[0]! : concat(rows, -1);
}
