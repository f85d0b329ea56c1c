/**
 * GPU buffer pool: buffers are reused by size class, so a loop that allocates and frees the same
 * shapes stops allocating after its first iteration.
 *
 * Why size classes: exact-size reuse misses whenever a sequence length changes by one; powers of
 * two waste up to half. Four steps per octave (1, 1.25, 1.5, 1.75 × 2^k) waste at most 25%.
 */

import { IdleSet } from './idleSet.js';
import { BufferUsage } from './usage.js';

/** The usage every pooled buffer has: kernels bind it as storage and copies read and write it. */
export const BUFFER_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

/** Smallest buffer handed out: bindings must be non-empty, so even a 0-element tensor gets one. */
const MIN_BYTES = 16;

/** The byte size of the class that holds `bytes`. */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BYTES) return MIN_BYTES;
  const octave = 2 ** Math.floor(Math.log2(bytes));
  if (octave === bytes) return bytes;
  const step = octave / 4;
  return Math.ceil(bytes / step) * step;
}

/** What the buffer pool holds, in bytes and buffers (`runtime().memory()`); tests use it to catch leaks. */
export interface PoolStats {
  /** Bytes in buffers currently handed out (by class size). */
  liveBytes: number;
  /** Buffers currently handed out. */
  liveBuffers: number;
  /** Bytes held idle in the pool, ready for reuse. */
  idleBytes: number;
  /** Buffers ever created by the pool. */
  created: number;
  /** Buffers destroyed: idle ones over the cap, and live ones given to `destroy()`. */
  destroyed: number;
}

/**
 * How many idle bytes the pool keeps: a fixed number, or (the default) room for its working set:
 * live and idle together at most `WORKING_SET_SLACK` times the largest live set it has served,
 * and idle at least `floorBytes`.
 */
export type IdleCap = { fixedBytes: number } | { floorBytes: number };

/** The default idle cap: room for the working set, at least 512 MiB idle. */
export const WORKING_SET_CAP: IdleCap = { floorBytes: 512 * 2 ** 20 };

/**
 * Live and idle bytes together, as a multiple of the largest live set, under the working-set cap.
 * Which size classes are live changes over a piece of work (the forward's tensors, then the
 * backward's), so at its busiest the pool holds more than its live peak: 1.02-1.15× in the
 * explanations measured (docs/runtime.md). Inputs of other lengths need other classes; the
 * slack bounds what the pool holds for them.
 */
export const WORKING_SET_SLACK = 1.25;

/**
 * Storage buffers reused by size class (`sizeClass`); idle ones beyond the cap (`IdleCap`) are
 * destroyed, oldest first, when a buffer is released and before a new one is created.
 *
 * Why the working set by default: work that repeats (an explanation per input, a dataset's worth)
 * needs the same buffers every time, and a new buffer costs its first touch of every page (on
 * lavapipe, host memory: a GPT-2-small explanation of 512 tokens re-created 131 buffers each time
 * under a fixed 512 MiB cap; docs/runtime.md).
 */
export class BufferPool {
  /** Idle buffers by size class. */
  private readonly idle = new IdleSet<number, GPUBuffer>();
  private readonly live = new Set<GPUBuffer>();
  private stats: Omit<PoolStats, 'idleBytes'> = { liveBytes: 0, liveBuffers: 0, created: 0, destroyed: 0 };
  private readonly acquireListeners = new Set<(pool: BufferPool) => void>();
  /** The most bytes ever live at once (the working set the default cap follows). */
  private peakLiveBytes = 0;

  /**
   * @param device owning device
   * @param cap idle bytes kept for reuse (`IdleCap`); beyond it the oldest idle buffers are destroyed
   * @param deferDestroy destroys a buffer once no queued command can still reference it
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly cap: IdleCap,
    private readonly deferDestroy: (buffer: GPUBuffer) => void,
  ) {}

  /** Idle bytes the pool keeps now (`IdleCap`). */
  get maxIdleBytes(): number {
    return this.idleRoom(this.stats.liveBytes, this.peakLiveBytes);
  }

  /** The idle cap with `live` bytes live and a live peak of `peak`. */
  private idleRoom(live: number, peak: number): number {
    if ('fixedBytes' in this.cap) return this.cap.fixedBytes;
    return Math.max(this.cap.floorBytes, Math.floor(WORKING_SET_SLACK * peak) - live);
  }

  /** A new buffer of `size` bytes, after trimming the idle ones to the cap it will leave. */
  private create(size: number): GPUBuffer {
    const live = this.stats.liveBytes + size;
    this.evict(this.idleRoom(live, Math.max(this.peakLiveBytes, live)));
    this.stats.created++;
    return this.device.createBuffer({ size, usage: BUFFER_USAGE });
  }

  /** A storage buffer of at least `bytes`, uninitialised. */
  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const buffer = this.idle.take(size) ?? this.create(size);
    this.markLive(buffer);
    for (const listener of this.acquireListeners) listener(this);
    return buffer;
  }

  /**
   * A new storage buffer of exactly `bytes` (rounded up to whole words), never taken from the idle
   * buffers: for long-lived data of a known size (model weights), which size classes would round
   * up by as much as 25%. Released or destroyed like any pooled buffer.
   */
  acquireExact(bytes: number): GPUBuffer {
    const buffer = this.create(Math.max(MIN_BYTES, Math.ceil(bytes / 4) * 4));
    this.markLive(buffer);
    for (const listener of this.acquireListeners) listener(this);
    return buffer;
  }

  /**
   * Calls `listener` after every `acquire` and `acquireExact` (pool bytes only grow there, so a peak sampled in it
   * is never missed, even inside a synchronously recorded forward). Returns the unsubscribe.
   */
  onAcquire(listener: (pool: BufferPool) => void): () => void {
    this.acquireListeners.add(listener);
    return () => this.acquireListeners.delete(listener);
  }

  /** Returns a buffer to the pool. Queued commands that still use it run first (one queue). */
  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new Error('BufferPool.release: buffer is not live (released twice?)');
    const size = buffer.size;
    this.stats.liveBytes -= size;
    this.stats.liveBuffers--;
    this.idle.put(size, buffer, size);
    this.evict(this.maxIdleBytes);
  }

  /**
   * Destroys a live buffer instead of pooling it: for buffers unlikely to be needed again in
   * their size class (a disposed model's weights), which would otherwise sit idle up to the cap.
   */
  destroy(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new Error('BufferPool.destroy: buffer is not live (released twice?)');
    this.stats.liveBytes -= buffer.size;
    this.stats.liveBuffers--;
    this.stats.destroyed++;
    this.deferDestroy(buffer);
  }

  /** Destroys idle buffers until at most `keepBytes` stay idle (`evict()` hands every idle buffer back). */
  evict(keepBytes = 0): void {
    this.idle.evict(keepBytes, (buffer) => {
      this.stats.destroyed++;
      this.deferDestroy(buffer);
    });
  }

  /** The pool's counters now (a copy). */
  snapshot(): PoolStats {
    return { ...this.stats, idleBytes: this.idle.bytes };
  }

  private markLive(buffer: GPUBuffer): void {
    this.live.add(buffer);
    this.stats.liveBytes += buffer.size;
    this.stats.liveBuffers++;
    this.peakLiveBytes = Math.max(this.peakLiveBytes, this.stats.liveBytes);
  }
}
