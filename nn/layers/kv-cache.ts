/**
 * Key/value cache for incremental decoding: each attention layer keeps the keys (after rotary)
 * and values of every position processed so far, so that generating one more token runs the
 * model over that token alone instead of over the whole sequence. Generation only: the LRP
 * explaining forward never takes a cache (its graph must reach every position's inputs).
 */
import { concat } from '../../autograd/ops/concat.js';
import { keep } from '../../autograd/scope.js';
import type { Tensor } from '../../autograd/tensor.js';

/** One layer's view of a `KvCache`: what `SelfAttention` calls with its new keys and values. */
export interface LayerKvCache {
  /**
   * Appends the new positions' keys and values, [B, Hkv, T, D], and returns all of them,
   * [B, Hkv, S, D] with S = cached + T. The stored tensors survive the caller's `tidy`.
   */
  append(k: Tensor, v: Tensor): { k: Tensor; v: Tensor };
}

/**
 * The keys and values of every layer for the positions processed so far (a batch of one
 * sequence or several of equal length, without padding). A model's forward with
 * `{ cache }` runs its input ids as positions `cache.length`, `cache.length + 1`, … and then
 * advances `length`. Free it with `dispose()`; it holds GPU memory until then.
 */
export class KvCache {
  private readonly entries: ({ k: Tensor; v: Tensor } | null)[];
  private positions = 0;

  /** @param layers attention layers of the model (one entry each) */
  constructor(readonly layers: number) {
    this.entries = Array.from({ length: layers }, () => null);
  }

  /** Positions cached so far: the next forward's first position. */
  get length(): number {
    return this.positions;
  }

  /** The cache of layer `index`, for its attention. */
  layer(index: number): LayerKvCache {
    if (!Number.isInteger(index) || index < 0 || index >= this.layers) throw new Error(`KvCache: no layer ${index} (${this.layers} layers)`);
    return {
      append: (k, v) => {
        const old = this.entries[index];
        if (old && (old.k.shape[2] !== this.positions || k.shape[0] !== old.k.shape[0])) {
          throw new Error(`KvCache: layer ${index} holds ${old.k.shape[2]} positions, the cache ${this.positions}`);
        }
        // Concatenating copies the cache once per step; the engine has no in-place writes into a
        // preallocated buffer, and the copy is small next to the weights each step reads.
        const next = old ? { k: concat([old.k, k], 2), v: concat([old.v, v], 2) } : { k, v };
        keep(next.k);
        keep(next.v);
        if (old) {
          old.k.dispose();
          old.v.dispose();
        }
        this.entries[index] = next;
        return next;
      },
    };
  }

  /** Records that a forward added `count` positions (the model calls it after its blocks). */
  advance(count: number): void {
    this.positions += count;
  }

  /** Frees every cached tensor (idempotent); the cache is empty afterwards. */
  dispose(): void {
    for (const entry of this.entries) {
      entry?.k.dispose();
      entry?.v.dispose();
    }
    this.entries.fill(null);
    this.positions = 0;
  }
}
