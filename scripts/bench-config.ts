/**
 * Scale benchmark: a published LLaMA-family config (scripts/published-configs.ts) at full depth,
 * with seeded random weights written by the bench in the checkpoint's own layout and dtype (BF16,
 * as the hub's files are), then loaded, run forward, and explained, in one process. Reported per
 * phase: wall and CPU time, peak RSS, peak GPU pool bytes.
 *
 *   npm run bench:model -- --config NAME [--tokens 128] [--methods pa-lrp] [--dtype BF16|F32]
 *                          [--load-dtype auto|f32]   (how the GPU holds the weights: LoadOptions.dtype)
 *                          [--layers N] [--dir DIR] [--seed 1] [--keep]
 *
 * NAME: SmolLM2-135M, Qwen2.5-0.5B, Qwen3-0.6B, Llama-3.2-1B. --layers N keeps only the first N
 * layers (for a quick check; the figures in docs/benchmarks.md are at full depth).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import { initRuntime } from '../kernels/dawn.js';
import { explain } from '../lrp/explain.js';
import { isMethodName, METHOD_NAMES } from '../lrp/methods.js';
import type { MethodName } from '../lrp/result.js';
import type { JsonObject } from '../nn/config.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { checkWeightDtype, type WeightDtype } from '../nn/upload.js';
import { configTensors, parameterCount, randomIds, writeCheckpoint } from './bench-checkpoint.js';
import { fmtMiB, fmtS, gc, measure, Peaks, readAndDispose, type Row } from './bench-shared.js';
import { BENCH_CONFIGS, PUBLISHED_CONFIGS } from './published-configs.js';
import { unexplainedFraction } from '../lrp/conservation.js';

export { BENCH_CONFIGS };

type StoreDtype = 'F32' | 'BF16';

interface ConfigOptions {
  name: string;
  tokens: number;
  methods: MethodName[];
  dtype: StoreDtype;
  loadDtype: WeightDtype;
  layers: number | null;
  dir: string | null;
  seed: number;
  keep: boolean;
}

function parseConfigArgs(argv: string[]): ConfigOptions {
  const parsed = (() => {
    try {
      return parseArgs({
        args: argv,
        strict: true,
        options: {
          config: { type: 'string', default: '' },
          tokens: { type: 'string', default: '128' },
          methods: { type: 'string', default: 'pa-lrp' },
          dtype: { type: 'string', default: 'BF16' },
          'load-dtype': { type: 'string', default: 'auto' },
          layers: { type: 'string' },
          dir: { type: 'string' },
          seed: { type: 'string', default: '1' },
          keep: { type: 'boolean', default: false },
        },
      });
    } catch (error) {
      throw new Error(`bench-model --config: ${(error as Error).message} (see scripts/bench-config.ts)`);
    }
  })();
  const { values } = parsed;
  const int = (flag: string, v: string, min: number): number => {
    const n = Number(v);
    if (v === '' || !Number.isInteger(n) || n < min) throw new Error(`${flag}: expected an integer >= ${min}, got ${v || 'nothing'}`);
    return n;
  };
  if (values.dtype !== 'F32' && values.dtype !== 'BF16') throw new Error(`--dtype: F32 or BF16, got ${values.dtype}`);
  const o: ConfigOptions = {
    name: values.config,
    tokens: int('--tokens', values.tokens, 1),
    methods: values.methods.split(',').filter((m) => m !== '').map((m) => {
      if (!isMethodName(m)) throw new Error(`--methods: unknown method ${m} (choose from ${METHOD_NAMES.join(', ')})`);
      return m;
    }),
    dtype: values.dtype,
    loadDtype: checkWeightDtype(values['load-dtype'], '--load-dtype'),
    layers: values.layers === undefined ? null : int('--layers', values.layers, 1),
    dir: values.dir ?? null,
    seed: int('--seed', values.seed, 0),
    keep: values.keep,
  };
  if (!BENCH_CONFIGS[o.name]) throw new Error(`--config: one of ${Object.keys(BENCH_CONFIGS).join(', ')}, got "${o.name}"`);
  return o;
}

export async function runConfigBench(argv: string[]): Promise<void> {
  const o = parseConfigArgs(argv);
  const repo = BENCH_CONFIGS[o.name]!;
  const config: JsonObject = { ...PUBLISHED_CONFIGS[repo]!, torch_dtype: o.dtype === 'BF16' ? 'bfloat16' : 'float32' };
  if (o.layers !== null) config['num_hidden_layers'] = o.layers;
  const startLoad = loadavg();
  const rt = await initRuntime();
  const peaks = new Peaks(rt);
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'bench-config-')));
  const rows: Row[] = [];
  const held: { model?: TransformerModel } = {};
  try {
    const tensors = configTensors(config, o.dtype);
    const params = parameterCount(tensors);
    console.error(`bench-model --config ${o.name}: ${params.toLocaleString('en-US')} parameters, ${o.dtype}, checkpoint in ${dir}`);
    let fileBytes = 0;
    rows.push(await measure(rt, peaks, 'write checkpoint (not engine time)', async () => {
      fileBytes = await writeCheckpoint(dir, { config, tensors, seed: o.seed, generator: 'scripts/bench-checkpoint.ts' });
      return `${fmtMiB(fileBytes)} file`;
    }));
    gc();
    const baseline = process.memoryUsage.rss();
    rows.push(await measure(rt, peaks, 'loadModel', async () => {
      held.model = await loadModel(dir, { dtype: o.loadDtype });
      await rt.sync();
      const blocks = held.model.parameters().filter((p) => p.rowShards().length > 1);
      return `${blocks.length} matrices in row blocks`;
    }));
    const model = held.model!;
    const ids = randomIds(o.tokens, model.info.vocabSize, o.seed);
    for (let r = 1; r <= 2; r++) {
      rows.push(await measure(rt, peaks, `forward ${o.tokens} tokens (run ${r})`, async () => {
        const values = await readAndDispose(tidy(() => noGrad(() => model.forward({ ids: [ids] }, { lastPositionOnly: true }))));
        if (values.length !== model.info.vocabSize || !values.every(Number.isFinite)) throw new Error('bench-model: wrong or non-finite logits');
        return `${values.length} logits`;
      }));
    }
    for (const method of o.methods) {
      rows.push(await measure(rt, peaks, `explain ${method} ${o.tokens} tokens`, async () => {
        const e = await explain(model, { ids: [ids] }, { method });
        const c = e.conservation;
        return `target ${e.target}, logit ${c.output.toFixed(4)}, input ${c.input.toFixed(4)}, unexplained share ${unexplainedFraction(c).toExponential(2)}, ledger remainder ${c.ledger.remainder.toExponential(2)}`;
      }));
    }
    const cpu = cpus();
    const info = model.info;
    console.log(`\n${o.name} (${repo} config${o.layers !== null ? `, first ${o.layers} layers` : ''}): ${info.layers} layers, hidden ${info.hidden}, ${info.heads}/${info.kvHeads} heads, vocab ${info.vocabSize}; ${params.toLocaleString('en-US')} parameters stored as ${o.dtype} (${fmtMiB(fileBytes)}), matrices held as ${o.dtype === 'BF16' && o.loadDtype === 'auto' ? 'bf16' : 'f32'} on the GPU (--load-dtype ${o.loadDtype})`);
    console.log(`Adapter: ${rt.adapterInfo.description} (${rt.adapterInfo.vendor}, ${rt.adapterInfo.architecture}); binding limit ${fmtMiB(rt.maxBindingBytes)}`);
    console.log(`Machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${fmtMiB(totalmem())} RAM; Node ${process.version}; load average at start ${startLoad.map((l) => l.toFixed(2)).join(' ')}, at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`RSS before load: ${fmtMiB(baseline)}; process peak (maxRSS): ${fmtMiB(process.resourceUsage().maxRSS * 1024)}\n`);
    console.log('| phase | time | CPU time | peak RSS | peak GPU pool (live + idle) | peak GPU live | notes |');
    console.log('|---|---:|---:|---:|---:|---:|---|');
    for (const r of rows) console.log(`| ${r.phase} | ${fmtS(r.ms)} | ${fmtS(r.cpuMs)} | ${fmtMiB(r.rss)} | ${fmtMiB(r.gpu)} | ${fmtMiB(r.gpuLive)} | ${r.note} |`);
  } finally {
    held.model?.dispose();
    if (o.dir === null && !o.keep) await rm(dir, { recursive: true, force: true });
    else console.error(`checkpoint kept in ${dir}`);
  }
}
