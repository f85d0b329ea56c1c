/**
 * GPU time per dispatch, from timestamp queries (`timestamp-query`), summed under tags the caller
 * chooses (a kernel family, a phase). While a timer runs, every dispatch gets a compute pass of
 * its own whose beginning and end write a timestamp; each submit resolves its queries into a
 * buffer that is read back after the GPU is done. Separate passes cost a little; the figures are
 * for finding where the time goes, not for the wall clock of an untimed run.
 *
 * On lavapipe a timestamp is the host clock when the queue thread reaches it, after the work
 * before it has finished, so a pass's duration is the time its dispatch ran.
 */
import { BufferUsage, MapMode } from './usage.js';

/** GPU time and dispatches under one tag. */
export interface TimedTag {
  /** The tag the caller's function gave the dispatches. */
  tag: string;
  /** Dispatches (or copies, for a copy's tag) timed under it. */
  dispatches: number;
  /** Their summed GPU time, in seconds. */
  seconds: number;
}

/** Queries per submit: two per dispatch, and the runtime submits at most 1,024 dispatches at once. */
const MAX_QUERIES = 2048;

export class DispatchTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  /** Tags of this submit's dispatches, in query order. */
  private tags: string[] = [];
  private readonly totals = new Map<string, { dispatches: number; ns: bigint }>();
  private readonly reads: Promise<void>[] = [];

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: MAX_QUERIES });
    this.resolveBuffer = device.createBuffer({ size: MAX_QUERIES * 8, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
  }

  /** Whether this submit's queries are used up: the runtime submits before timing anything more. */
  get full(): boolean {
    return 2 * this.tags.length + 2 > MAX_QUERIES;
  }

  /** The pass descriptor for the next dispatch, tagged `tag` (the runtime submits before a submit's queries run out). */
  passFor(tag: string): GPUComputePassDescriptor {
    if (2 * this.tags.length + 2 > MAX_QUERIES) throw new Error(`DispatchTimer: more than ${MAX_QUERIES / 2} dispatches in one submit`);
    const first = 2 * this.tags.length;
    this.tags.push(tag);
    return { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: first, endOfPassWriteIndex: first + 1 } };
  }

  /**
   * Descriptors of two empty passes around a copy, tagged `tag`: the first writes its end where a
   * dispatch's beginning goes, the second its beginning where the end goes, so the pair times
   * what ran between them (copies have no timestamps of their own in WebGPU).
   */
  spanFor(tag: string): [GPUComputePassDescriptor, GPUComputePassDescriptor] {
    const { timestampWrites } = this.passFor(tag);
    const { querySet, beginningOfPassWriteIndex: first, endOfPassWriteIndex: second } = timestampWrites!;
    return [{ timestampWrites: { querySet, endOfPassWriteIndex: first } }, { timestampWrites: { querySet, beginningOfPassWriteIndex: second } }];
  }

  /** Before a submit: resolves this submit's queries and copies them to a buffer to read; returns the read to start after the submit. */
  resolve(encoder: GPUCommandEncoder): (() => void) | null {
    if (this.tags.length === 0) return null;
    const count = 2 * this.tags.length;
    const readback = this.device.createBuffer({ size: count * 8, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, count, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, readback, 0, count * 8);
    const tags = this.tags;
    this.tags = [];
    return () => {
      this.reads.push(
        readback.mapAsync(MapMode.READ).then(() => {
          const stamps = new BigUint64Array(readback.getMappedRange());
          tags.forEach((tag, i) => {
            const total = this.totals.get(tag) ?? { dispatches: 0, ns: 0n };
            total.dispatches++;
            // A pass the implementation did not time writes zeros; it counts, with no time.
            if (stamps[2 * i + 1]! > stamps[2 * i]!) total.ns += stamps[2 * i + 1]! - stamps[2 * i]!;
            this.totals.set(tag, total);
          });
          readback.destroy();
        }),
      );
    };
  }

  /** Every tag's totals once all submitted reads are in, most time first. */
  async results(): Promise<TimedTag[]> {
    await Promise.all(this.reads.splice(0));
    return [...this.totals.entries()]
      .map(([tag, t]) => ({ tag, dispatches: t.dispatches, seconds: Number(t.ns) / 1e9 }))
      .sort((a, b) => b.seconds - a.seconds);
  }

  /** Frees the query set and its buffer. */
  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
  }
}
