/**
 * Staging memory for uploads: a few `MAP_WRITE | COPY_SRC` buffers that the CPU writes while they
 * are mapped, and that a submit then copies into their destinations.
 *
 * Why not `queue.writeBuffer`: Dawn stages every write in buffers of its own, and on lavapipe a
 * write of 4 MiB found its ring busy and made a new staging buffer each time, zeroed by a memset
 * and then copied twice (into Dawn's buffer, then into ours). Fresh memory is what an upload pays
 * for here (about 20 µs per page on first touch), so staging buffers that stay mapped and are
 * reused take the load from three passes over fresh memory to one (the destination itself).
 *
 * A slot is current (being filled), in flight (unmapped, its copies submitted, `mapAsync`
 * pending) or free (mapped again). `upload` never waits: with no free slot it makes one, and slots
 * beyond `keepSlots` are destroyed when they come back. A caller that streams a large amount
 * awaits `room()` between pieces, so at most `keepSlots` are ever in use.
 */
import { BufferUsage, MapMode } from './usage.js';

/** One staging buffer and, while it is mapped, its bytes. */
export interface StagingSlot {
  readonly buffer: GPUBuffer;
  /** The mapped range while the slot is current or free; null while in flight. */
  bytes: Uint8Array | null;
}

/** A piece of the current slot: where the bytes go on the CPU, and where they are on the GPU. */
export interface StagingPiece {
  /** The staging buffer (the copy's source). */
  buffer: GPUBuffer;
  /** Its byte offset of the piece. */
  offset: number;
  /** The piece's mapped bytes, to fill before the next submit. */
  bytes: Uint8Array;
}

/** The runtime's staging buffers for uploads (see the file comment). */
export class UploadStaging {
  private readonly free: StagingSlot[] = [];
  private current: StagingSlot | null = null;
  private cursor = 0;
  private slots = 0;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly device: GPUDevice,
    /** Bytes per staging buffer. */
    readonly slotBytes: number,
    /** Staging buffers kept once they come back; more are made while none is free, then destroyed. */
    readonly keepSlots: number,
  ) {}

  /**
   * Up to `bytes` (a multiple of 4) of the current slot, or null when it is full: the caller
   * submits (`seal`, then `submitted`) and asks again.
   */
  take(bytes: number): StagingPiece | null {
    if (this.current && this.cursor === this.slotBytes) return null;
    const slot = (this.current ??= this.nextSlot());
    const n = Math.min(bytes, this.slotBytes - this.cursor);
    const piece = { buffer: slot.buffer, offset: this.cursor, bytes: slot.bytes!.subarray(this.cursor, this.cursor + n) };
    this.cursor += n;
    return piece;
  }

  /** Unmaps the slot in use, if anything was written to it, so a submit can read it; returns it for `submitted`. */
  seal(): StagingSlot | null {
    if (!this.current || this.cursor === 0) return null;
    const slot = this.current;
    slot.bytes = null;
    slot.buffer.unmap();
    this.current = null;
    this.cursor = 0;
    return slot;
  }

  /** After the submit that reads a sealed slot: maps it again for reuse once the GPU is done with it. */
  submitted(slot: StagingSlot | null): void {
    if (!slot) return;
    slot.buffer.mapAsync(MapMode.WRITE).then(
      () => {
        if (this.slots > this.keepSlots) {
          slot.buffer.destroy();
          this.slots--;
        } else {
          slot.bytes = new Uint8Array(slot.buffer.getMappedRange());
          this.free.push(slot);
        }
        for (const wake of this.waiters.splice(0)) wake();
      },
      () => {
        // Device lost or destroyed: the slot is gone; the runtime reports the loss itself.
        this.slots--;
        for (const wake of this.waiters.splice(0)) wake();
      },
    );
  }

  /**
   * Resolves once `bytes` can be taken without making a staging buffer beyond `keepSlots`: from
   * the current slot's rest, free slots, and slots not yet made (at once when that is already so).
   */
  room(bytes: number): Promise<void> {
    const rest = this.current ? this.slotBytes - this.cursor : 0;
    const unmade = Math.max(0, this.keepSlots - this.slots);
    if (rest + (this.free.length + unmade) * this.slotBytes >= Math.min(bytes, this.keepSlots * this.slotBytes)) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve)).then(() => this.room(bytes));
  }

  /** Staging buffers that exist now (current, in flight or free), for tests. */
  get size(): number {
    return this.slots;
  }

  private nextSlot(): StagingSlot {
    const reused = this.free.pop();
    if (reused) return reused;
    const buffer = this.device.createBuffer({ size: this.slotBytes, usage: BufferUsage.MAP_WRITE | BufferUsage.COPY_SRC, mappedAtCreation: true, label: 'upload-staging' });
    this.slots++;
    return { buffer, bytes: new Uint8Array(buffer.getMappedRange()) };
  }
}
