/**
 * The measuring harness the model benchmarks share: per phase, wall and CPU time, peak RSS, peak
 * GPU pool bytes and the runtime's dispatch, submit and pipeline counts (kernels/stats.ts).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Tensor } from '../autograd/tensor.js';
import type { GpuRuntime } from '../kernels/runtime.js';
import { startMeter, type RuntimeMeter, type RuntimeStats } from '../kernels/stats.js';

export const MiB = 2 ** 20;
export const fmtMiB = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;
export const fmtS = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
/**
 * Linux's transparent-huge-page setting for shared memory ('never', 'within_size', …; 'n/a'
 * elsewhere). Lavapipe's buffers are shared memory (memfd), so it decides what their first touch
 * costs, which is most of what a load costs on lavapipe (docs/benchmarks.md).
 */
export function shmemHugePages(): string {
  try {
    return /\[([a-z_]+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/shmem_enabled', 'utf8'))?.[1] ?? 'n/a';
  } catch {
    return 'n/a';
  }
}

export const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** Reads a tensor back to the CPU and releases it. */
export async function readAndDispose(t: Tensor): Promise<Float32Array | Int32Array> {
  try {
    return (await t.toArray()) as Float32Array | Int32Array;
  } finally {
    t.dispose();
  }
}

/**
 * Peak process RSS and GPU pool bytes of a phase. RSS is sampled every 5 ms and at every pool
 * allocation; the pool's peaks come from a runtime meter (kernels/stats.ts), which sees every
 * allocation, so no peak inside a synchronously recorded forward is missed.
 */
export class Peaks {
  rss = 0;
  /** live + idle pool bytes */
  gpu = 0;
  gpuLive = 0;
  /** The runtime's figures for the last phase (set by `stop`). */
  stats: RuntimeStats | null = null;
  private timer: NodeJS.Timeout | null = null;
  private meter: RuntimeMeter | null = null;

  constructor(private readonly rt: GpuRuntime) {}

  sample(): void {
    this.rss = Math.max(this.rss, process.memoryUsage.rss());
  }

  /** Starts a phase: peaks restart from the current values. */
  reset(): void {
    this.rss = 0;
    this.sample();
    this.meter?.stop();
    this.meter = startMeter(this.rt, { onAllocate: () => this.sample() });
    this.timer ??= setInterval(() => this.sample(), 5);
    this.timer.unref();
  }

  stop(): void {
    this.sample();
    if (this.meter) {
      this.stats = this.meter.stop();
      this.gpu = this.stats.peakPoolBytes;
      this.gpuLive = this.stats.peakLiveBytes;
      this.meter = null;
    }
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

export interface Row {
  phase: string;
  ms: number;
  /** Process CPU time: user + system over all threads, lavapipe's included. */
  cpuMs: number;
  rss: number;
  gpu: number;
  gpuLive: number;
  dispatches: number;
  submits: number;
  newPipelines: number;
  note: string;
}

export async function measure(rt: GpuRuntime, peaks: Peaks, phase: string, fn: () => Promise<string>): Promise<Row> {
  gc();
  peaks.reset();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const note = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  peaks.stop();
  const stats = peaks.stats!;
  const row: Row = {
    phase,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rss: peaks.rss,
    gpu: peaks.gpu,
    gpuLive: peaks.gpuLive,
    dispatches: stats.dispatches,
    submits: stats.submits,
    newPipelines: stats.newPipelines,
    note,
  };
  console.error(`  ${phase}: ${fmtS(ms)} (CPU ${fmtS(row.cpuMs)})  peak RSS ${fmtMiB(row.rss)}  peak GPU pool ${fmtMiB(row.gpu)}  ${note}`);
  return row;
}
