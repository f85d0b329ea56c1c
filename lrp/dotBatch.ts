/**
 * Relevance totals Σ a ⊙ b, many per dispatch and all read back in one transfer. The ledger adds
 * a pair per measured tensor during the backward sweep, explain() one per tap and bias at the
 * end; pairs wait (their buffers held) until one dispatch can take no more pairs, and
 * `read()` adds every pair's partial sums in float64.
 */
import { runtime } from '../kernels/runtime.js';
import { dotPairLimit, dotPartials, dotSlotCount, DOT_MAX_RANK } from '../kernels/dots.js';
import { coalesce } from '../kernels/shape.js';
import { Storage } from '../autograd/storage.js';
import { Tensor } from '../autograd/tensor.js';
import { contiguous } from '../autograd/ops/view.js';
import { noGrad } from '../autograd/graph.js';

/** Partial-sum slots per output buffer (1 MiB); a batch needing more gets a buffer of its own size. */
const SLOTS_PER_BUFFER = 1 << 18;
/** Bytes of pending operands held before a dispatch is forced, to bound the memory kept alive. */
const MAX_PENDING_BYTES = 64 * 2 ** 20;

interface Pending {
  a: Tensor;
  b: Tensor;
  id: number;
}

/** A queue of dot products Σ a ⊙ b, dispatched many at a time and read back together (see the module comment). */
export class DotBatch {
  private pending: Pending[] = [];
  private pendingBytes = 0;
  /** Per pair id: the output buffer index and its slots there. */
  private readonly where: { buffer: number; first: number; count: number }[] = [];
  private readonly outputs: Tensor[] = [];
  /** Slots written so far in each output buffer: all that `read()` copies back. */
  private readonly used: number[] = [];
  private cursor = 0;

  /** Ids of the pairs queued so far, by the two views they read (see `pairKey`). */
  private readonly byPair = new Map<string, number>();
  /** Small numbers naming storages in pair keys; weak, so the batch keeps no storage alive. */
  private readonly storageNames = new WeakMap<Storage, number>();
  private nextName = 0;

  /**
   * Queues Σ a ⊙ b (same shape) and returns its id, the index of its value in `read()`'s result.
   * Own handles on both operands are held until the dispatch; the caller may dispose its own.
   * A pair of views queued before (in either order) is not summed again: its first id is
   * returned. Tensors are never written in place, so the same views hold the same values; the
   * ledger and the report meet the same pairs (a softmax's input is also the masked scores' output
   * and a tap).
   */
  add(a: Tensor, b: Tensor): number {
    const key = this.pairKey(a, b);
    const known = this.byPair.get(key);
    if (known !== undefined) return known;
    const id = this.where.length;
    this.byPair.set(key, id);
    this.where.push({ buffer: -1, first: 0, count: 0 });
    let [x, y] = [a.savedAlias(), b.savedAlias()];
    // A view with more dims than the kernel walks (after merging) is copied first: rare.
    if (coalesce(x.shape, [x.strides, y.strides]).shape.length > DOT_MAX_RANK) {
      [x, y] = noGrad(() => [x, y].map((t) => {
        // Untracked handles: the batch may outlive the caller's tidy.
        const copy = contiguous(t);
        const handle = copy.savedAlias();
        copy.dispose();
        t.dispose();
        return handle;
      }) as [Tensor, Tensor]);
    }
    this.pending.push({ a: x, b: y, id });
    this.pendingBytes += (x.size + y.size) * 4;
    if (this.pending.length >= dotPairLimit() || this.pendingBytes > MAX_PENDING_BYTES) this.flush();
    return id;
  }

  /**
   * Slots for `count` partial sums of Σ a ⊙ b that a kernel recorded next will write (at `offset`
   * of `buffer`, f32), so that `add(a, b)` later returns this pair's id without a dispatch of its
   * own; null when the pair is already queued. `read()` adds the slots like any pair's partials.
   */
  reserve(a: Tensor, b: Tensor, count: number): { buffer: GPUBuffer; offset: number } | null {
    const key = this.pairKey(a, b);
    if (this.byPair.has(key)) return null;
    const id = this.where.length;
    this.byPair.set(key, id);
    const out = this.slotsFor(count);
    this.where.push({ buffer: this.outputs.length - 1, first: this.cursor, count });
    const offset = this.cursor;
    this.cursor += count;
    this.used[this.used.length - 1] = this.cursor;
    return { buffer: out.buffer, offset };
  }

  /** The output buffer with room for `count` more slots after the cursor (a new one when the last is full). */
  private slotsFor(count: number): Tensor {
    let out = this.outputs[this.outputs.length - 1];
    if (!out || this.cursor + count > out.size) {
      const slots = Math.max(SLOTS_PER_BUFFER, count);
      // Untracked: flushes happen inside the callers' tidy scopes.
      out = new Tensor(new Storage(runtime().pool.acquire(slots * 4)), [slots], 'f32', undefined, 0, false);
      this.outputs.push(out);
      this.used.push(0);
      this.cursor = 0;
    }
    return out;
  }

  /** The two views a pair reads, as a string: storage, offset, strides and shape of each, in a fixed order. */
  private pairKey(a: Tensor, b: Tensor): string {
    const view = (t: Tensor): string => {
      let name = this.storageNames.get(t.storage);
      if (name === undefined) this.storageNames.set(t.storage, (name = this.nextName++));
      return `${name}@${t.offset}:${t.strides.join(',')}:${t.shape.join(',')}`;
    };
    const [x, y] = [view(a), view(b)].sort();
    return `${x}*${y}`;
  }

  /** Records the dispatch for every queued pair and lets go of their operands. */
  flush(): void {
    if (this.pending.length === 0) return;
    const needed = this.pending.reduce((n, p) => n + dotSlotCount(p.a.size), 0);
    const out = this.slotsFor(needed);
    const slots = dotPartials(this.pending.map((p) => ({ a: p.a, b: p.b })), out.buffer, this.cursor);
    this.pending.forEach((p, k) => {
      this.where[p.id] = { buffer: this.outputs.length - 1, first: this.cursor + slots[k]!.first, count: slots[k]!.count };
      p.a.dispose();
      p.b.dispose();
    });
    this.cursor += needed;
    this.used[this.used.length - 1] = this.cursor;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Every queued Σ a ⊙ b, by id, summed in float64; frees everything the batch held. */
  async read(): Promise<Float64Array> {
    this.flush();
    const values = new Float64Array(this.where.length);
    try {
      const partials: Float32Array[] = [];
      // The written slots only: a batch of a few thousand slots need not copy its 1 MiB buffer.
      for (const [k, out] of this.outputs.entries()) partials.push(new Float32Array(await runtime().read(out.buffer, 0, this.used[k]! * 4)));
      this.where.forEach((w, id) => {
        let s = 0;
        for (let k = 0; k < w.count; k++) s += partials[w.buffer]![w.first + k]!;
        values[id] = s;
      });
    } finally {
      this.dispose();
    }
    return values;
  }

  /** Frees the operands still queued and the partial sums. */
  dispose(): void {
    for (const p of this.pending) {
      p.a.dispose();
      p.b.dispose();
    }
    this.pending = [];
    for (const out of this.outputs) out.dispose();
    this.outputs.length = 0;
    this.used.length = 0;
    // Ids handed out so far name freed sums: a pair queued again is summed again.
    this.byPair.clear();
  }
}

/** The batch `withDotBatch` has made current, if any. */
let active: DotBatch | null = null;

/**
 * Runs `fn` with `batch` as the batch that backward rules may hand partial sums to
 * (`activeDotBatch`): explain() runs its backward sweep so, and a rule whose kernel reads a pair
 * the ledger will measure (the ε-rule: a layer's output and its gradient) reserves the pair's
 * slots and writes them, so the ledger's `add` finds the pair summed.
 */
export function withDotBatch<T>(batch: DotBatch, fn: () => T): T {
  const outer = active;
  active = batch;
  try {
    return fn();
  } finally {
    active = outer;
  }
}

/** The batch of the innermost `withDotBatch`, or null outside one. */
export function activeDotBatch(): DotBatch | null {
  return active;
}
