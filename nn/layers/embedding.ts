/**
 * Embedding lookup. Tables larger than one GPU binding are stored as row blocks; a lookup then
 * sums one masked lookup per block (ids are known on the host, so the masks are built there).
 */
import { embedding, checkIds } from '../../autograd/ops/gather.js';
import { add, mul } from '../../autograd/ops/elementwise.js';
import { reshape } from '../../autograd/ops/view.js';
import { Tensor } from '../../autograd/tensor.js';
import { Module, type Parameter } from '../module.js';

/** A lookup table of `count` rows of size `dim` (token, position or segment embeddings). */
export class Embedding extends Module {
  /** The table, [count, dim]. */
  readonly weight: Parameter;

  /**
   * @param prefix checkpoint prefix of the table's module
   * @param count rows (the vocabulary or the maximum position)
   * @param dim embedding size
   * @param local the table's name under `prefix`
   */
  constructor(prefix: string, readonly count: number, readonly dim: number, local = 'weight') {
    super(prefix);
    // Read by lookups and (tied) by the LM head's products only: may stay 16-bit on the GPU.
    this.weight = this.parameter(local, [count, dim], { halfStorage: true });
  }

  /** Rows of the table for `ids` (host integers, any shape given by `shape`). */
  forward(ids: readonly number[], shape: readonly number[] = [ids.length]): Tensor {
    return this.scoped(() => this.lookup(ids, shape));
  }

  private lookup(ids: readonly number[], shape: readonly number[]): Tensor {
    checkIds(ids, this.count, this.prefix || 'embedding');
    const shards = this.weight.rowShards();
    if (shards.length === 1) {
      const idTensor = Tensor.fromArray(ids, shape, 'i32');
      const out = embedding(shards[0]!, idTensor);
      idTensor.dispose();
      return out;
    }
    let start = 0;
    let total: Tensor | null = null;
    for (const shard of shards) {
      const rows = shard.shape[0]!;
      const local = ids.map((id) => (id >= start && id < start + rows ? id - start : 0));
      const mask = ids.map((id) => (id >= start && id < start + rows ? 1 : 0));
      const idTensor = Tensor.fromArray(local, shape, 'i32');
      const maskTensor = Tensor.fromArray(mask, [...shape, 1]);
      const part = mul(embedding(shard, idTensor), maskTensor);
      total = total ? add(total, part) : part;
      idTensor.dispose();
      maskTensor.dispose();
      start += rows;
    }
    return reshape(total!, [...shape, this.dim]);
  }
}
