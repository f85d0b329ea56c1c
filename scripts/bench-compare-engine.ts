/**
 * The engine's side of `npm run bench:compare` (scripts/bench-compare.ts): the checkpoint plan, and
 * in this process a warm forward and warm explanations, timed, with the relevance they give and
 * the runtime's dispatch and submit counts. Imported only once Python with PyTorch was found, so
 * the driver refuses without loading the library.
 */
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import { initRuntime } from '../kernels/dawn.js';
import { measure, type RuntimeStats } from '../kernels/stats.js';
import { explain } from '../lrp/explain.js';
import type { Explanation, MethodName } from '../lrp/result.js';
import type { JsonObject } from '../nn/config.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { configTensors, gpt2Config, gpt2Tensors, type CheckpointPlan } from './bench-checkpoint.js';
import { fmtS, gc, readAndDispose } from './bench-shared.js';
import { BENCH_CONFIGS, PUBLISHED_CONFIGS } from './published-configs.js';

export { ensureCheckpoint, parameterCount, randomIds, type CheckpointPlan } from './bench-checkpoint.js';
export { gc } from './bench-shared.js';

/** What the engine side needs of the options. */
export interface EngineOptions {
  methods: MethodName[];
  repeat: number;
  layers: number | null;
  config: string | null;
  seed: number;
}

/** Timed runs of one thing. */
export interface EngineRun {
  seconds: number[];
  /** Process CPU seconds per run (user + system, all threads: lavapipe's included). */
  cpu: number[];
  stats: RuntimeStats;
}

/** One method's timed runs and the relevance per position it gave (signed positional sums). */
export interface EngineMethod extends EngineRun {
  target: number;
  logit: number;
  tokens: number[];
  positions: number[];
}

/** What the engine measured. */
export interface EngineResult {
  forward: EngineRun & { logits: number[] };
  methods: Map<MethodName, EngineMethod>;
  adapter: string;
}

/** GPT-2 small (F32), or a published config (BF16, as the hub stores it). */
export function checkpointPlan(o: EngineOptions): CheckpointPlan {
  const generator = 'scripts/bench-checkpoint.ts';
  if (o.config === null) {
    const layers = o.layers ?? 12;
    return { config: gpt2Config(layers), tensors: gpt2Tensors(layers), seed: o.seed, generator };
  }
  const config: JsonObject = { ...PUBLISHED_CONFIGS[BENCH_CONFIGS[o.config]!]!, torch_dtype: 'bfloat16' };
  if (o.layers !== null) config['num_hidden_layers'] = o.layers;
  return { config, tensors: configTensors(config, 'BF16'), seed: o.seed, generator };
}

/** Runs `fn` once to warm up, then `repeat` times; the runtime statistics are the last run's. */
async function timed<R>(repeat: number, fn: () => Promise<R>): Promise<{ value: R; seconds: number[]; cpu: number[]; stats: RuntimeStats }> {
  await fn();
  const seconds: number[] = [];
  const cpu: number[] = [];
  let last: { value: R; stats: RuntimeStats } | null = null;
  for (let r = 0; r < repeat; r++) {
    gc();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    last = await measure(fn);
    seconds.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  return { value: last!.value, seconds, cpu, stats: last!.stats };
}

/** Loads the checkpoint in `dir` and times a forward and each method on `ids`. */
export async function runEngine(dir: string, ids: number[], o: EngineOptions): Promise<EngineResult> {
  const rt = await initRuntime();
  const model: TransformerModel = await loadModel(dir);
  try {
    await rt.sync();
    console.error(`  engine: model loaded; forward ${ids.length} tokens`);
    const fwd = await timed(o.repeat, async () => Array.from(await readAndDispose(tidy(() => noGrad(() => model.forward({ ids: [ids] }, { lastPositionOnly: true }))))));
    console.error(`  engine: forward best ${fmtS(Math.min(...fwd.seconds) * 1000)} of ${o.repeat}`);
    const methods = new Map<MethodName, EngineMethod>();
    for (const method of o.methods) {
      const run = await timed(o.repeat, () => explain(model, { ids: [ids] }, { method }));
      const e: Explanation = run.value;
      methods.set(method, {
        seconds: run.seconds,
        cpu: run.cpu,
        stats: run.stats,
        target: e.target,
        logit: e.logit,
        tokens: e.tokens.map((t) => t.token),
        positions: e.details?.positionSigned ?? e.tokens.map((t) => t.position),
      });
      console.error(`  engine: ${method} best ${fmtS(Math.min(...run.seconds) * 1000)} of ${o.repeat}, ${run.stats.dispatches} dispatches in ${run.stats.submits} submits`);
    }
    return { forward: { seconds: fwd.seconds, cpu: fwd.cpu, stats: fwd.stats, logits: fwd.value }, methods, adapter: `${rt.adapterInfo.description} (${rt.adapterInfo.vendor}, ${rt.adapterInfo.architecture})` };
  } finally {
    model.dispose();
    await rt.sync();
  }
}

