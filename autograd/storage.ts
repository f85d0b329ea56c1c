/**
 * A reference-counted GPU buffer. Views (reshape, transpose, slice) share one Storage; graph
 * nodes retain the storages they saved for backward, so `dispose()` on a tensor a graph still
 * needs is safe: the buffer goes back to the pool when the last holder lets go.
 */
import { runtime } from '../kernels/runtime.js';

let nextStorageId = 1;

export class Storage {
  readonly id = nextStorageId++;
  private refs = 1;
  private destroyWhenReleased = false;

  constructor(readonly buffer: GPUBuffer) {}

  retain(): void {
    if (this.refs <= 0) throw new Error('Storage.retain: the buffer was already released');
    this.refs++;
  }

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

  get alive(): boolean {
    return this.refs > 0;
  }
}
