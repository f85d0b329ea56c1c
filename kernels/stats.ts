/**
 * Runtime statistics for benchmarks and tests: how many dispatches and submits a piece of work
 * recorded, how many pipelines it compiled, how many bytes it uploaded, and the peak bytes the
 * buffer pool held while it ran. Counting is the runtime's own (its counters and listeners), so
 * nothing is monkey-patched and measurements nest.
 */
import type { BufferPool } from './bufferPool.js';
import { runtime, type GpuRuntime } from './runtime.js';

/** What one measured piece of work cost the runtime. */
export interface RuntimeStats {
  /** Compute dispatches recorded. */
  dispatches: number;
  /** Queue submits (each flush that had recorded work). */
  submits: number;
  /** Pipelines compiled (cache misses). */
  newPipelines: number;
  /** Bytes uploaded through the runtime's upload staging. */
  uploadedBytes: number;
  /** Peak of the buffer pool's live + idle bytes (everything it holds on the device). */
  peakPoolBytes: number;
  /** Peak of the buffer pool's live bytes (buffers handed out to tensors). */
  peakLiveBytes: number;
}

/** Per pipeline key: how often it was dispatched and with how many workgroups in total. */
export interface KernelCount {
  /** The pipeline cache key (kernel family and template parameters). */
  key: string;
  /** Dispatches recorded with this pipeline. */
  dispatches: number;
  /** Workgroups launched in all of them. */
  workgroups: number;
}

/** A running measurement; `stop()` ends it and returns the figures since it started. */
export interface RuntimeMeter {
  /** The figures so far (the meter keeps running). */
  read(): RuntimeStats;
  /** Dispatch counts by pipeline key, most dispatched first (only with `byKernel: true`). */
  kernels(): KernelCount[];
  /** Ends the measurement and returns its figures. */
  stop(): RuntimeStats;
}

/** Options of `startMeter` and `measure`. */
export interface MeterOptions {
  /** Also count dispatches per pipeline key (a map update per dispatch). */
  byKernel?: boolean;
  /** Called after every pool allocation, e.g. to sample process RSS at the same moments. */
  onAllocate?: () => void;
}

/** Starts measuring the runtime `rt` (default: the running one). Meters are independent and may overlap. */
export function startMeter(rt: GpuRuntime = runtime(), options: MeterOptions = {}): RuntimeMeter {
  const before = rt.counters();
  const pool = rt.pool;
  const start = pool.snapshot();
  let peakPool = start.liveBytes + start.idleBytes;
  let peakLive = start.liveBytes;
  const sample = (p: BufferPool): void => {
    const s = p.snapshot();
    peakPool = Math.max(peakPool, s.liveBytes + s.idleBytes);
    peakLive = Math.max(peakLive, s.liveBytes);
    options.onAllocate?.();
  };
  const unsubscribePool = pool.onAcquire(sample);
  const byKey = new Map<string, KernelCount>();
  const unsubscribeDispatch = options.byKernel
    ? rt.onDispatch((launch) => {
        const k = byKey.get(launch.key) ?? { key: launch.key, dispatches: 0, workgroups: 0 };
        k.dispatches++;
        k.workgroups += launch.workgroups;
        byKey.set(launch.key, k);
      })
    : () => true;
  let stopped: RuntimeStats | null = null;
  const read = (): RuntimeStats => {
    if (stopped) return stopped;
    const now = rt.counters();
    return {
      dispatches: now.dispatches - before.dispatches,
      submits: now.submits - before.submits,
      newPipelines: now.pipelines - before.pipelines,
      uploadedBytes: now.uploadedBytes - before.uploadedBytes,
      peakPoolBytes: peakPool,
      peakLiveBytes: peakLive,
    };
  };
  return {
    read,
    kernels: () => [...byKey.values()].sort((a, b) => b.dispatches - a.dispatches),
    stop: () => {
      if (!stopped) {
        stopped = read();
        unsubscribePool();
        unsubscribeDispatch();
      }
      return stopped;
    },
  };
}

/**
 * Runs `fn` and returns its value with what it cost the runtime. Work `fn` leaves recorded but
 * unsubmitted is counted in dispatches, not yet in submits: end `fn` with a read or `sync()` to
 * count its submits.
 */
export async function measure<R>(fn: () => R | Promise<R>, options: MeterOptions & { runtime?: GpuRuntime } = {}): Promise<{ value: R; stats: RuntimeStats; kernels: KernelCount[] }> {
  const meter = startMeter(options.runtime ?? runtime(), options);
  try {
    const value = await fn();
    const kernels = meter.kernels();
    return { value, stats: meter.stop(), kernels };
  } finally {
    meter.stop();
  }
}
