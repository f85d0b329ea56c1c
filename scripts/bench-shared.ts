/**
 * Pieces the model benchmarks share: a seedable generator and normal sampler for random weights,
 * and the measuring harness (wall and CPU time, peak RSS, peak GPU pool bytes, runtime counters).
 */
import { performance } from 'node:perf_hooks';
import type { Tensor } from '../autograd/tensor.js';
import type { GpuRuntime } from '../kernels/runtime.js';

/** sfc32: small, fast, seedable 32-bit generator; one stream per tensor so tensors are independent. */
export function sfc32(seed: number, stream: number): () => number {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 ^ stream;
  let c = 0xb7e15162;
  let d = 1;
  const next = (): number => {
    a |= 0; b |= 0; c |= 0; d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

/** Fills `out` with N(0, std) by Box-Muller. */
export function fillNormal(out: Float32Array, std: number, uniform: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - uniform();
    const r = std * Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(theta);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(theta);
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring: wall time, peak RSS (sampled) and peak GPU pool bytes (hooked on every acquire)

export const MiB = 2 ** 20;
export const fmtMiB = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;
export const fmtS = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
export const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** Reads a tensor back to the CPU and releases it. */
export async function readAndDispose(t: Tensor): Promise<Float32Array | Int32Array> {
  try {
    return (await t.toArray()) as Float32Array | Int32Array;
  } finally {
    t.dispose();
  }
}

export class Peaks {
  rss = 0;
  /** live + idle pool bytes */
  gpu = 0;
  gpuLive = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly rt: GpuRuntime) {
    // Pool bytes only grow on acquire: sample right after each one, so no peak is missed even
    // while a forward is recorded synchronously. RSS is sampled there too and on a timer.
    const pool = rt.pool;
    const acquire = pool.acquire.bind(pool);
    pool.acquire = (bytes: number): GPUBuffer => {
      const b = acquire(bytes);
      this.sample();
      return b;
    };
  }

  sample(): void {
    const m = this.rt.memory();
    this.gpu = Math.max(this.gpu, m.liveBytes + m.idleBytes);
    this.gpuLive = Math.max(this.gpuLive, m.liveBytes);
    this.rss = Math.max(this.rss, process.memoryUsage.rss());
  }

  /** Starts a phase: peaks restart from the current values. */
  reset(): void {
    this.rss = 0;
    this.gpu = 0;
    this.gpuLive = 0;
    this.sample();
    this.timer ??= setInterval(() => this.sample(), 5);
    this.timer.unref();
  }

  stop(): void {
    this.sample();
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
  const before = rt.counters();
  peaks.reset();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const note = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  peaks.stop();
  const after = rt.counters();
  const row: Row = {
    phase,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rss: peaks.rss,
    gpu: peaks.gpu,
    gpuLive: peaks.gpuLive,
    dispatches: after.dispatches - before.dispatches,
    submits: after.submits - before.submits,
    newPipelines: after.pipelines - before.pipelines,
    note,
  };
  console.error(`  ${phase}: ${fmtS(ms)} (CPU ${fmtS(row.cpuMs)})  peak RSS ${fmtMiB(row.rss)}  peak GPU pool ${fmtMiB(row.gpu)}  ${note}`);
  return row;
}
