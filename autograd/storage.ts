/**
 * A reference-counted GPU buffer. Views (reshape, transpose, slice) share one Storage; graph
 * nodes retain the storages they saved for backward, so `dispose()` on a tensor a graph still
 * needs is safe: the buffer goes back to the pool when the last holder lets go.
 */
import { runtime } from '../kernels/runtime.js';

let nextStorageId = 1;

/**
 * A reference-counted GPU buffer shared by a tensor, its views and the graph nodes that saved it;
 * the buffer returns to the pool (or is destroyed) when the last holder releases it.
 */
export class Storage {
  /** Unique per process, in creation order. */
  readonly id = nextStorageId++;
  private refs = 1;
  private destroyWhenReleased = false;

  /** @param buffer a pooled buffer, now owned by this storage (one reference) */
  constructor(readonly buffer: GPUBuffer) {}

  /** Adds a holder; throws if the buffer was already released. */
  retain(): void {
    if (this.refs <= 0) throw new Error('Storage.retain: the buffer was already released');
    this.refs++;
  }

  /**
   * Drops a holder; the last one returns the buffer to the pool (or destroys it). Throws when over-released.
   */
  release(): void {
    if (this.refs <= 0) throw new Error('Storage.release: released more often than retained');
    if (--this.refs > 0) return;
    if (this.destroyWhenReleased) runtime().pool.destroy(this.buffer);
    else runtime().pool.release(this.buffer);
  }

  /** When the last holder releases it, the buffer is destroyed instead of going back to the pool. */
  destroyOnRelease(): void {
    this.destroyWhenReleased = true;
  }

  /** True while any holder remains. */
  get alive(): boolean {
    return this.refs > 0;
  }
}
