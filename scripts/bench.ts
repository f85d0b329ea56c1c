/**
 * Kernel benchmark: matmul GFLOP/s at n = 128 … 1024 and softmax / layerNorm bandwidth (GB/s),
 * each next to a plain TypeScript loop over Float32Array measured in the same run. Where the
 * adapter picks the packed matmul (CPU adapters with subgroups), the largest size is also timed
 * with the buffer path it replaces, in the same run.
 *
 *   npm run bench -- [--sizes 128,256,512,1024] [--rows 1024] [--cols 1024] [--seconds 0.5] [--trials 3] [--variants]
 *
 * --variants adds tables of every matmul variant this adapter can run (and the packed variant as
 * it was before issue 16's changes, and with one element per store), timed round-robin at each
 * size and on transformer-shaped products (x·Wᵀ, the backward's s·W, attention), in wall-clock
 * GFLOP/s and in GFLOP per CPU-second of the process; and a table of a linear layer's product
 * with what its epilogue stores beside it (GELU, residual sum), with either kind of store.
 *
 * No input requires a gradient, so nothing is recorded for backward.
 *
 * GPU timing: one warm-up call (compiles the pipeline), then `trials` timed runs of N calls each
 * (N chosen so a run lasts about `seconds`), each ending with `await runtime().sync()`; the best
 * run is reported, because the machines this runs on are shared and a run can only be slowed
 * down by other processes, never sped up. The TS loops are timed the same way, with fewer
 * repetitions where one call is long (the 1024³ product runs once per trial).
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { linear, matmul } from '../autograd/ops/matmul.js';
import { layerNorm } from '../autograd/ops/norm.js';
import { softmax } from '../autograd/ops/softmax.js';
import { Tensor } from '../autograd/tensor.js';
import { MATMUL_VARIANTS, matmul as matmulKernel, matmulThen, pickMatmulVariant, type MatmulOptions, type MatmulVariant } from '../kernels/matmul.js';
import { transpose } from '../autograd/ops/view.js';
import { wrap } from '../autograd/ops/wrap.js';
import { initRuntime } from '../kernels/dawn.js';
import { runtime } from '../kernels/runtime.js';
import { numel } from '../kernels/shape.js';

interface Options {
  sizes: number[];
  rows: number;
  cols: number;
  seconds: number;
  trials: number;
  variants: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { sizes: [128, 256, 512, 1024], rows: 1024, cols: 1024, seconds: 0.5, trials: 5, variants: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--variants') {
      o.variants = true;
      continue;
    }
    const value = argv[++i];
    const num = Number(value);
    if (flag === '--sizes') o.sizes = (value ?? '').split(',').map(Number);
    else if (flag === '--rows') o.rows = num;
    else if (flag === '--cols') o.cols = num;
    else if (flag === '--seconds') o.seconds = num;
    else if (flag === '--trials') o.trials = num;
    else throw new Error(`bench: unknown option ${flag} (see the header of scripts/bench.ts)`);
  }
  const bad = [...o.sizes, o.rows, o.cols, o.trials].some((n) => !Number.isInteger(n) || n < 1) || !(o.seconds > 0);
  if (bad) throw new Error('bench: sizes, rows, cols and trials must be positive integers, seconds positive');
  return o;
}

function randomData(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/** Best seconds per call of `call` (GPU work, finished by a sync at the end of each run). */
async function timeGpu(call: () => void, o: Options): Promise<number> {
  call();
  await runtime().sync();
  const t0 = performance.now();
  call();
  await runtime().sync();
  const once = Math.max((performance.now() - t0) / 1000, 1e-6);
  const reps = Math.max(1, Math.round(o.seconds / once));
  let best = Infinity;
  for (let t = 0; t < o.trials; t++) {
    const start = performance.now();
    for (let r = 0; r < reps; r++) call();
    await runtime().sync();
    best = Math.min(best, (performance.now() - start) / 1000 / reps);
  }
  return best;
}

/** Best seconds per call of a synchronous TS loop; long calls run once per trial. */
function timeTs(call: () => void, o: Options): number {
  const t0 = performance.now();
  call();
  const once = Math.max((performance.now() - t0) / 1000, 1e-6);
  const reps = Math.max(1, Math.round(o.seconds / once));
  let best = once;
  for (let t = 0; t < o.trials; t++) {
    const start = performance.now();
    for (let r = 0; r < reps; r++) call();
    best = Math.min(best, (performance.now() - start) / 1000 / reps);
  }
  return best;
}

// Plain TS references: the loops one would write without a GPU.

/** C = A·B for row-major n×n matrices (i-k-j order: the inner loop walks rows of B and C). */
function tsMatmul(a: Float32Array, b: Float32Array, c: Float32Array, n: number): void {
  c.fill(0);
  for (let i = 0; i < n; i++) {
    const ci = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      const bk = k * n;
      for (let j = 0; j < n; j++) c[ci + j]! += aik * b[bk + j]!;
    }
  }
}

function tsSoftmax(x: Float32Array, y: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[o + j]!);
    let s = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x[o + j]! - m);
      y[o + j] = e;
      s += e;
    }
    const inv = 1 / s;
    for (let j = 0; j < cols; j++) y[o + j]! *= inv;
  }
}

function tsLayerNorm(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, rows: number, cols: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mean = 0;
    for (let j = 0; j < cols; j++) mean += x[o + j]!;
    mean /= cols;
    let v = 0;
    for (let j = 0; j < cols; j++) v += (x[o + j]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / cols + eps);
    for (let j = 0; j < cols; j++) y[o + j] = (x[o + j]! - mean) * rstd * w[j]! + b[j]!;
  }
}

interface Row {
  what: string;
  unit: string;
  gpu: number;
  ts: number;
}

function printTable(rows: Row[]): void {
  const cells = rows.map((r) => [r.what, r.unit, r.gpu.toFixed(2), r.ts.toFixed(2), `${(r.gpu / r.ts).toFixed(1)}×`]);
  const header = ['benchmark', 'unit', 'GPU', 'TS loop', 'GPU / TS'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => `| ${c.map((x, i) => (i < 2 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i < 2 ? `${'-'.repeat(w + 2)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const c of cells) console.log(line(c));
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const rt = await initRuntime();
  const info = rt.adapterInfo;
  const variant = pickMatmulVariant(info);
  console.log(`Adapter: ${info.description} (vendor ${info.vendor}, architecture ${info.architecture}; ${info.isSoftware ? 'software' : 'hardware'})`);
  console.log(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}; load average at start ${loadavg()[0]!.toFixed(1)}`);
  console.log(`matmul variant: ${JSON.stringify(variant)}`);
  console.log(`timing: best of ${o.trials} runs of ≈ ${o.seconds} s, each ending with await runtime().sync()\n`);
  const rows: Row[] = [];

  {
    for (const n of o.sizes) {
      const ad = randomData(n * n, 1);
      const bd = randomData(n * n, 2);
      const a = Tensor.fromArray(ad, [n, n]);
      const b = Tensor.fromArray(bd, [n, n]);
      const flops = 2 * n ** 3;
      const gpu = await timeGpu(() => matmul(a, b).dispose(), o);
      const c = new Float32Array(n * n);
      const ts = timeTs(() => tsMatmul(ad, bd, c, n), o);
      rows.push({ what: `matmul ${n}×${n}·${n}×${n}`, unit: 'GFLOP/s', gpu: flops / gpu / 1e9, ts: flops / ts / 1e9 });
      if (n === o.sizes[o.sizes.length - 1]) {
        // The common transformer case: x · Wᵀ with W stored [out, in], read transposed in place.
        const gpuT = await timeGpu(() => linear(a, b).dispose(), o);
        rows.push({ what: `linear ${n}×${n}·(${n}×${n})ᵀ`, unit: 'GFLOP/s', gpu: flops / gpuT / 1e9, ts: flops / ts / 1e9 });
        if (variant.textureB) {
          // The buffer path the packed variant replaces on this adapter, for the ratio in one run.
          const plain = MATMUL_VARIANTS.software;
          const gpuPlain = await timeGpu(() => wrap(matmulKernel(a, b, { variant: plain })).dispose(), o);
          rows.push({ what: `matmul ${n}×${n}·${n}×${n}, buffer path`, unit: 'GFLOP/s', gpu: flops / gpuPlain / 1e9, ts: flops / ts / 1e9 });
        }
      }
      a.dispose();
      b.dispose();
      console.log(`  measured n = ${n}`);
    }

    const { rows: R, cols: C } = o;
    const xd = randomData(R * C, 3).map((v) => v * 8);
    const x = Tensor.fromArray(xd, [R, C]);
    const y = new Float32Array(R * C);
    const bytes = 2 * R * C * 4; // read x, write y
    const gpuSoftmax = await timeGpu(() => softmax(x).dispose(), o);
    const tsSm = timeTs(() => tsSoftmax(xd, y, R, C), o);
    rows.push({ what: `softmax ${R}×${C} (last dim)`, unit: 'GB/s', gpu: bytes / gpuSoftmax / 1e9, ts: bytes / tsSm / 1e9 });
    const wd = randomData(C, 4);
    const bd = randomData(C, 5);
    const w = Tensor.fromArray(wd, [C]);
    const b = Tensor.fromArray(bd, [C]);
    const gpuLn = await timeGpu(() => layerNorm(x, w, b, 1e-5).dispose(), o);
    const tsLn = timeTs(() => tsLayerNorm(xd, wd, bd, y, R, C, 1e-5), o);
    rows.push({ what: `layerNorm ${R}×${C} (last dim)`, unit: 'GB/s', gpu: bytes / gpuLn / 1e9, ts: bytes / tsLn / 1e9 });
    for (const t of [x, w, b]) t.dispose();
  }

  console.log('');
  printTable(rows);
  if (o.variants) await variantTable(o);
  console.log(`\nload average at end ${loadavg()[0]!.toFixed(1)}; bandwidth counts the input read and the output written once (2·rows·cols·4 bytes)`);
}

/**
 * The matmul variant before the register-path changes of issue 16 (FMAs step by step, a packed
 * operand always packed with texels along N): kept here so that `--variants` times the old and
 * the new kernel side by side in one run.
 */
const PACKED_BEFORE: { variant: MatmulVariant; packAlong: 'n' } = { variant: { ...MATMUL_VARIANTS.softwarePacked, fmaOrder: 'step' }, packAlong: 'n' };

/** A product of the variant table: A [..., M, K] and B [..., K, N], B stored transposed when `bT`. */
interface Shape {
  label: string;
  batch: number[];
  M: number;
  K: number;
  N: number;
  bT: boolean;
}

/**
 * GFLOP/s of every matmul variant the adapter can run (`--variants`), on square and
 * transformer-shaped products. The variants of one shape are timed round-robin, `trials` rounds,
 * best of each, so that load from other processes hits them alike; beside the wall-clock rate,
 * GFLOP per CPU-second of this process (all its threads), which other processes disturb less.
 */
async function variantTable(o: Options): Promise<void> {
  const info = runtime().adapterInfo;
  const runs: { name: string; variant: MatmulVariant; packAlong?: 'n' | 'k'; scalarStores?: boolean }[] = [];
  for (const [name, variant] of Object.entries(MATMUL_VARIANTS) as [string, MatmulVariant][]) {
    if (/OneRow|FewRows/.test(name)) continue; // tiles for products of 1-4 rows
    if (variant.broadcastA && info.subgroupSize !== variant.wgCols) continue;
    runs.push({ name, variant });
    if (variant === MATMUL_VARIANTS.softwarePacked) {
      runs.push({ name: `${name}, one element per store`, variant, scalarStores: true });
      runs.push({ name: `${name} before (steps in order, texels along N)`, ...PACKED_BEFORE });
    }
  }
  const shapes: Shape[] = [
    ...o.sizes.map((n) => ({ label: `${n}³`, batch: [], M: n, K: n, N: n, bT: false })),
    { label: `linear ${o.sizes[o.sizes.length - 1]}`, batch: [], M: o.sizes[o.sizes.length - 1]!, K: o.sizes[o.sizes.length - 1]!, N: o.sizes[o.sizes.length - 1]!, bT: true },
    { label: 'x·Wᵀ 128×768·(3072×768)ᵀ', batch: [], M: 128, K: 768, N: 3072, bT: true },
    { label: 'x·Wᵀ 128×3072·(768×3072)ᵀ', batch: [], M: 128, K: 3072, N: 768, bT: true },
    { label: 'x·Wᵀ 128×768·(768×768)ᵀ', batch: [], M: 128, K: 768, N: 768, bT: true },
    // The backward's input gradients s·W, W [out, in] read as stored (rows contiguous along M of Wᵀ).
    { label: 's·W 128×3072·3072×768', batch: [], M: 128, K: 3072, N: 768, bT: false },
    { label: 's·W 128×768·768×3072', batch: [], M: 128, K: 768, N: 3072, bT: false },
    { label: 'q·kᵀ 12×(128×64·(128×64)ᵀ)', batch: [12], M: 128, K: 64, N: 128, bT: true },
    { label: 'p·v 12×(128×128·128×64)', batch: [12], M: 128, K: 128, N: 64, bT: false },
  ];
  const wall = runs.map(() => [] as string[]);
  const perCpu = runs.map(() => [] as string[]);
  for (const s of shapes) {
    const a = Tensor.fromArray(randomData(numel([...s.batch, s.M, s.K]), 6), [...s.batch, s.M, s.K]);
    const stored = Tensor.fromArray(randomData(numel([...s.batch, s.K, s.N]), 7), s.bT ? [...s.batch, s.N, s.K] : [...s.batch, s.K, s.N]);
    const b = s.bT ? transpose(stored) : stored;
    const calls = runs.map((r) => () => wrap(matmulKernel(a, b, { variant: r.variant, packAlong: r.packAlong, scalarStores: r.scalarStores })).dispose());
    const times = await timeRoundRobin(calls, o);
    const flops = 2 * numel([...s.batch, s.M, s.K, s.N]);
    times.forEach((t, i) => {
      wall[i]!.push((flops / t.wall / 1e9).toFixed(2));
      perCpu[i]!.push((flops / t.cpu / 1e9).toFixed(2));
    });
    for (const t of new Set([a, b, stored])) t.dispose();
    console.log(`  measured ${s.label} (load average ${loadavg()[0]!.toFixed(1)})`);
  }
  for (const [title, table] of [
    ['matmul variant: GFLOP/s (wall clock)', wall],
    ['matmul variant: GFLOP per CPU-second of this process', perCpu],
  ] as const) {
    const header = [title, ...shapes.map((s) => s.label)];
    console.log(`\n| ${header.join(' | ')} |`);
    console.log(`|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    runs.forEach((r, i) => console.log(`| ${[r.name, ...table[i]!].join(' | ')} |`));
  }
  await epilogueTable(o);
}

/**
 * A linear layer's product with what its epilogue stores beside it (the GELU, the residual sum),
 * with the picked variant's stores and with one element per store, timed round-robin: what the
 * fused stores cost over the bare product.
 */
async function epilogueTable(o: Options): Promise<void> {
  const [M, K, N] = [128, 768, 3072];
  const x = Tensor.fromArray(randomData(M * K, 8), [M, K]);
  const w = Tensor.fromArray(randomData(N * K, 9), [N, K]);
  const bias = Tensor.fromArray(randomData(N, 10), [N]);
  const residual = Tensor.fromArray(randomData(M * N, 11), [M, N]);
  const wt = transpose(w);
  const kinds: [string, MatmulOptions['then']][] = [
    ['x·Wᵀ + b', undefined],
    ['x·Wᵀ + b, GELU stored beside', { activation: 'geluTanh' }],
    ['x·Wᵀ + b, residual sum stored beside', { addend: residual }],
  ];
  const runs = kinds.flatMap(([label, then]) =>
    [false, true].map((scalarStores) => ({
      label: `${label}${scalarStores ? ', one element per store' : ''}`,
      call: (): void => {
        if (!then) return wrap(matmulKernel(x, wt, { bias, scalarStores })).dispose();
        const r = matmulThen(x, wt, { bias, scalarStores, then });
        wrap(r.product).dispose();
        wrap(r.then).dispose();
      },
    })),
  );
  const times = await timeRoundRobin(
    runs.map((r) => r.call),
    o,
  );
  console.log(`\n| epilogue of x·Wᵀ ${M}×${K}·(${N}×${K})ᵀ (picked variant) | ms per call | GFLOP/s (wall clock) |\n|---|---:|---:|`);
  runs.forEach((r, i) => console.log(`| ${r.label} | ${(times[i]!.wall * 1e3).toFixed(2)} | ${((2 * M * K * N) / times[i]!.wall / 1e9).toFixed(2)} |`));
  for (const t of [x, w, bias, residual, wt]) t.dispose();
}

/** Best wall-clock and CPU seconds per call of each of `calls`, timed round-robin (one warm-up call each first). */
async function timeRoundRobin(calls: (() => void)[], o: Options): Promise<{ wall: number; cpu: number }[]> {
  const reps: number[] = [];
  for (const call of calls) {
    call(); // compiles
    await runtime().sync();
    const t0 = performance.now();
    call();
    await runtime().sync();
    reps.push(Math.max(1, Math.round(o.seconds / Math.max((performance.now() - t0) / 1000, 1e-6))));
  }
  const best = calls.map(() => ({ wall: Infinity, cpu: Infinity }));
  for (let t = 0; t < o.trials; t++)
    for (const [i, call] of calls.entries()) {
      const start = performance.now();
      const cpu0 = process.cpuUsage();
      for (let r = 0; r < reps[i]!; r++) call();
      await runtime().sync();
      const cpu = process.cpuUsage(cpu0);
      best[i]!.wall = Math.min(best[i]!.wall, (performance.now() - start) / 1000 / reps[i]!);
      best[i]!.cpu = Math.min(best[i]!.cpu, (cpu.user + cpu.system) / 1e6 / reps[i]!);
    }
  return best;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
