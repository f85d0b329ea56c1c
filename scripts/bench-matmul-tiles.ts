/**
 * Times arbitrary matmul variants round-robin in one process (best of N rounds), on given
 * shapes: the tool behind the tile experiments of docs/benchmarks.md ("Matmul after issue 16").
 *
 *   npm run build && node dist/scripts/bench-matmul-tiles.js '<candidates JSON>' [shapes] [trials]
 *
 * candidates: {"name": {"v": MatmulVariant, "packed"?: "a"|"b", "packAlong"?: "n"|"k"}, …};
 * shapes: comma-separated MxKxN, with a trailing xT for B stored transposed (x·Wᵀ), default
 * 1024x1024x1024; trials: rounds (default 5). Prints each candidate's compile time, best
 * wall-clock GFLOP/s and GFLOP per CPU-second of the process (all threads).
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Tensor } from '../autograd/tensor.js';
import { matmul as matmulKernel, type MatmulVariant } from '../kernels/matmul.js';
import { transpose } from '../autograd/ops/view.js';
import { wrap } from '../autograd/ops/wrap.js';
import { runtime } from '../kernels/runtime.js';
import { initRuntime } from '../kernels/dawn.js';

/** Deterministic values in [-0.5, 0.5). */
function randomData(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; out[i] = s / 2 ** 32 - 0.5; }
  return out;
}
const cands: Record<string, { v: MatmulVariant; packed?: 'a' | 'b'; packAlong?: 'n' | 'k' }> = JSON.parse(process.argv[2]!);
const shapes = (process.argv[3] ?? '1024x1024x1024').split(',').map((s) => { const [M, K, N, w] = s.split('x'); return { label: s, M: +M!, K: +K!, N: +N!, weight: w === 'T' }; });
const trials = Number(process.argv[4] ?? 5);
async function main(): Promise<void> {
  await initRuntime();
  console.log(`load ${loadavg()[0]!.toFixed(2)}`);
  for (const s of shapes) {
    const a = Tensor.fromArray(randomData(s.M * s.K, 6), [s.M, s.K]);
    const stored = Tensor.fromArray(randomData(s.K * s.N, 7), s.weight ? [s.N, s.K] : [s.K, s.N]);
    const b = s.weight ? transpose(stored) : stored;
    const names = Object.keys(cands);
    const best = new Map<string, number>();
    const bestCpu = new Map<string, number>();
    const reps = new Map<string, number>();
    for (const n of names) {
      const c = cands[n]!;
      const call = (): void => wrap(matmulKernel(a, b, { variant: c.v, packed: c.packed, packAlong: c.packAlong })).dispose();
      const t0 = performance.now(); call(); await runtime().sync(); const tc = performance.now() - t0;
      const t1 = performance.now(); call(); await runtime().sync(); const once = (performance.now() - t1) / 1000;
      reps.set(n, Math.max(1, Math.round(0.3 / once)));
      best.set(n, Infinity);
      bestCpu.set(n, Infinity);
      console.log(`  ${n}: compile+first ${tc.toFixed(0)} ms`);
    }
    for (let t = 0; t < trials; t++)
      for (const n of names) {
        const c = cands[n]!;
        const r = reps.get(n)!;
        const st = performance.now();
        const cpu0 = process.cpuUsage();
        for (let i = 0; i < r; i++) wrap(matmulKernel(a, b, { variant: c.v, packed: c.packed, packAlong: c.packAlong })).dispose();
        await runtime().sync();
        const cpu = process.cpuUsage(cpu0);
        best.set(n, Math.min(best.get(n)!, (performance.now() - st) / 1000 / r));
        bestCpu.set(n, Math.min(bestCpu.get(n)!, (cpu.user + cpu.system) / 1e6 / r));
      }
    const f = 2 * s.M * s.K * s.N;
    for (const n of names) console.log(`${s.label}\t${n}\twall ${(f / best.get(n)! / 1e9).toFixed(2)} GFLOP/s\tper CPU-second ${(f / bestCpu.get(n)! / 1e9).toFixed(2)} GFLOP`);
    for (const t of new Set([a, b, stored])) t.dispose();
  }
  console.log(`load ${loadavg()[0]!.toFixed(2)}`);
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
