/**
 * Generation attribution benchmark: explainGeneration() (N − 1 generation forwards without a
 * graph, one forward with the rules over the final sequence, N backwards over that one graph)
 * against what it replaces: greedy generation (N forwards) followed by N separate explain() calls,
 * one per prefix. Both give the same numbers (tests/generation.test.ts); this measures the time.
 * Generation runs with the model's key/value cache; the `no KV cache` rows re-run the whole
 * sequence per token instead (the same ids, tests/kv-cache.test.ts).
 *
 *   npm run build && node --expose-gc dist/scripts/bench-generate.js --model DIR
 *        [--prompt 8] [--new 8] [--method attnlrp] [--repeat 3] [--generation-only]
 *
 * `--generation-only` runs the two generation rows alone (with and without the KV cache).
 *
 * The prompt is the first `--prompt` ids of 1, 2, 3, …; each variant runs once to compile its
 * pipelines, then `--repeat` times; the fastest and the median wall time are reported, with the
 * fastest process CPU time and the GPU dispatches and submits of one run (which, unlike times, do
 * not depend on the machine's load).
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { type GpuRuntime } from '../kernels/runtime.js';
import { initRuntime } from '../kernels/dawn.js';
import { explain } from '../lrp/explain.js';
import { explainGeneration, generateGreedy } from '../lrp/generate.js';
import { isMethodName } from '../lrp/methods.js';
import type { MethodName } from '../lrp/result.js';
import { loadModel } from '../nn/folder.js';
import { fmtS, gc } from './bench-shared.js';

interface Options {
  model: string;
  prompt: number;
  count: number;
  method: MethodName;
  repeat: number;
  generationOnly: boolean;
}

function parse(argv: string[]): Options {
  const o: Options = { model: '', prompt: 8, count: 8, method: 'attnlrp', repeat: 3, generationOnly: false };
  const int = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected an integer >= 1, got ${v ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--generation-only') {
      o.generationOnly = true;
      continue;
    }
    const value = argv[++i];
    if (flag === '--model') o.model = value ?? '';
    else if (flag === '--prompt') o.prompt = int(flag, value);
    else if (flag === '--new') o.count = int(flag, value);
    else if (flag === '--repeat') o.repeat = int(flag, value);
    else if (flag === '--method') {
      if (!isMethodName(value ?? '')) throw new Error(`--method: unknown method ${value}`);
      o.method = value as MethodName;
    } else throw new Error(`unknown option ${flag}`);
  }
  if (!o.model) throw new Error('--model DIR is required');
  return o;
}

interface Run {
  ms: number;
  cpuMs: number;
  /** GPU dispatches and queue submits: independent of the machine's load. */
  dispatches: number;
  submits: number;
  /** GPU buffers the pool had to create (none when it could reuse idle ones). */
  created: number;
}

async function timed(rt: GpuRuntime, fn: () => Promise<void>): Promise<Run> {
  gc();
  const before = rt.counters();
  const created0 = rt.pool.snapshot().created;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const after = rt.counters();
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, dispatches: after.dispatches - before.dispatches, submits: after.submits - before.submits, created: rt.pool.snapshot().created - created0 };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const rt = await initRuntime();
  const model = await loadModel(o.model);
  const prompt = Array.from({ length: o.prompt }, (_, i) => (i + 1) % model.info.vocabSize);
  console.error(`adapter: ${rt.adapterInfo.description} · ${cpus().length} cores · load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.error(`model ${o.model} (${model.info.modelType}, ${model.info.layers} layers, hidden ${model.info.hidden}, vocab ${model.info.vocabSize}); prompt ${o.prompt}, ${o.count} new tokens, ${o.method}`);

  const variants: Record<string, () => Promise<void>> = {
    explainGeneration: async () => {
      await explainGeneration(model, { ids: [prompt] }, { method: o.method, maxNewTokens: o.count });
    },
    'generate + N × explain()': async () => {
      const generated = await generateGreedy(model, prompt, o.count);
      const sequence = [...prompt, ...generated];
      for (let k = 0; k < o.count; k++) {
        await explain(model, { ids: [sequence.slice(0, o.prompt + k)] }, { method: o.method, target: sequence[o.prompt + k]! });
      }
    },
    'generation alone, KV cache': async () => {
      await generateGreedy(model, prompt, o.count);
    },
    'generation alone, no KV cache (N full forwards)': async () => {
      await generateGreedy(model, prompt, o.count, undefined, { kvCache: false });
    },
    'explainGeneration, no KV cache': async () => {
      await explainGeneration(model, { ids: [prompt] }, { method: o.method, maxNewTokens: o.count, kvCache: false });
    },
  };
  const results: (Run & { name: string; medianMs: number })[] = [];
  const generation = (name: string): boolean => name.startsWith('generation alone');
  for (const [name, fn] of Object.entries(variants).filter(([name]) => !o.generationOnly || generation(name))) {
    await fn(); // compiles the pipelines this variant needs
    const runs: Run[] = [];
    for (let r = 0; r < o.repeat; r++) runs.push(await timed(rt, fn));
    const ms = Math.min(...runs.map((x) => x.ms));
    const medianMs = median(runs.map((x) => x.ms));
    const cpuMs = Math.min(...runs.map((x) => x.cpuMs));
    const { dispatches, submits, created } = runs[0]!;
    console.error(`  ${name}: ${fmtS(ms)} (CPU ${fmtS(cpuMs)}; runs ${runs.map((x) => fmtS(x.ms)).join(', ')}); ${dispatches} dispatches, ${submits} submits, ${created} buffers created`);
    results.push({ name, ms, medianMs, cpuMs, dispatches, submits, created });
  }
  const [ours, separate, cached, uncached] = o.generationOnly ? [undefined, undefined, ...results] : results;
  console.log(`| variant | wall, fastest of ${o.repeat} | wall, median | CPU, least | GPU dispatches | submits |`);
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.name} | ${fmtS(r.ms)} | ${fmtS(r.medianMs)} | ${fmtS(r.cpuMs)} | ${r.dispatches} | ${r.submits} |`);
  if (ours && separate) {
    console.log(
      `\nexplainGeneration: ${((100 * ours.ms) / separate.ms).toFixed(0)}% of the separate calls' fastest wall time, ` +
        `${((100 * ours.cpuMs) / separate.cpuMs).toFixed(0)}% of their CPU time, ${((100 * ours.dispatches) / separate.dispatches).toFixed(0)}% of their dispatches.`,
    );
  }
  console.log(
    `\ngeneration with the KV cache: ${((100 * cached!.ms) / uncached!.ms).toFixed(0)}% of the fastest wall time without, ` +
      `${((100 * cached!.cpuMs) / uncached!.cpuMs).toFixed(0)}% of its CPU time, ${((100 * cached!.dispatches) / uncached!.dispatches).toFixed(0)}% of its dispatches.`,
  );
  model.dispose();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
