/**
 * Model benchmark: a GPT-2-small-shaped Hugging Face checkpoint (124M parameters, HF names and
 * Conv1D layout, F32, seeded random weights drawn the way HF's `_init_weights` draws them) is
 * written to disk, then loaded and run in one process. Reported: loadModel time, one forward per
 * sequence length (noGrad + tidy, last position only, ending with the logits read back), one
 * PA-LRP explanation (and a CP-LRP one), and per phase the peak process RSS and the peak GPU
 * pool bytes.
 *
 * The 50257×768 token embedding (147 MiB) exceeds lavapipe's 128 MiB binding limit, so the
 * loader stores it as row blocks; the bench checks that path against the checkpoint's bytes
 * (embedding rows on both sides of the block boundary, LM-head logits over the whole vocabulary).
 *
 *   npm run bench:model -- [--dir DIR] [--lengths 32,128] [--explain 32] [--methods pa-lrp,cp-lrp]
 *                          [--repeat 2] [--layers 12] [--seed 1] [--profile] [--keep]
 *   npm run bench:model -- --config NAME ...   (published LLaMA-family configs: scripts/bench-config.ts)
 *
 * --dir reuses (or fills) a checkpoint directory; without it a temporary one is written and
 * removed at exit (--keep leaves it). --explain 0 skips the explanations; CP-LRP runs beside
 * PA-LRP as a numerical check (it is exactly conservative, so its unexplained share is f32 rounding).
 * --profile adds a forward at the longest length timed section by section (GPU synced between
 * sections) with dispatch counts per kernel. Timings include pipeline compiles on a length's
 * first run; the second run is warm.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs as parseNodeArgs } from 'node:util';
import { noGrad } from '../autograd/graph.js';
import { add } from '../autograd/ops/elementwise.js';
import { slice } from '../autograd/ops/view.js';
import { tidy } from '../autograd/scope.js';
import { Tensor } from '../autograd/tensor.js';
import { type GpuRuntime } from '../kernels/runtime.js';
import { initRuntime } from '../kernels/dawn.js';
import { startMeter } from '../kernels/stats.js';
import { explain } from '../lrp/explain.js';
import { isMethodName, METHOD_NAMES } from '../lrp/methods.js';
import type { MethodName } from '../lrp/result.js';
import { loadModel, readCheckpoint } from '../nn/folder.js';
import { GPT2LMHeadModel } from '../nn/models/gpt2.js';
import { lmHead } from '../nn/models/head.js';
import { attentionMask } from '../nn/models/masks.js';
import { deriveSeed, Rng } from '../nn/train/rng.js';
import { runConfigBench } from './bench-config.js';
import { checkpointMatches, GPT2, gpt2Config, gpt2Tensors, parameterCount, writeCheckpoint, type CheckpointPlan } from './bench-checkpoint.js';
import { fmtMiB, fmtS, gc, measure, Peaks, readAndDispose, type Row } from './bench-shared.js';
import { unexplainedFraction } from '../lrp/conservation.js';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  dir: string | null;
  lengths: number[];
  explainTokens: number;
  methods: MethodName[];
  repeat: number;
  layers: number;
  seed: number;
  profile: boolean;
  keep: boolean;
}

function parseArgs(argv: string[]): Options {
  const parsed = (() => {
    try {
      return parseNodeArgs({
        args: argv,
        strict: true,
        options: {
          dir: { type: 'string' },
          lengths: { type: 'string', default: '32,128' },
          explain: { type: 'string', default: '32' },
          methods: { type: 'string', default: 'pa-lrp,cp-lrp' },
          repeat: { type: 'string', default: '2' },
          layers: { type: 'string', default: '12' },
          seed: { type: 'string', default: '1' },
          profile: { type: 'boolean', default: false },
          keep: { type: 'boolean', default: false },
        },
      });
    } catch (error) {
      throw new Error(`bench-model: ${(error as Error).message} (see the comment at the top of scripts/bench-model.ts)`);
    }
  })();
  const { values } = parsed;
  const int = (flag: string, v: string, min: number): number => {
    const n = Number(v);
    if (v === '' || !Number.isInteger(n) || n < min) throw new Error(`${flag}: expected an integer >= ${min}, got ${v || 'nothing'}`);
    return n;
  };
  return {
    dir: values.dir ?? null,
    lengths: values.lengths.split(',').map((s) => int('--lengths', s, 1)),
    explainTokens: int('--explain', values.explain, 0),
    methods: values.methods.split(',').map((m) => {
      if (!isMethodName(m)) throw new Error(`--methods: unknown method ${m} (choose from ${METHOD_NAMES.join(', ')})`);
      return m;
    }),
    repeat: int('--repeat', values.repeat, 1),
    layers: int('--layers', values.layers, 1),
    seed: int('--seed', values.seed, 0),
    profile: values.profile,
    keep: values.keep,
  };
}

// ---------------------------------------------------------------------------------------------
// The checkpoint: GPT-2 small's config and tensors (scripts/bench-checkpoint.ts)

const { vocab: VOCAB, hidden: HIDDEN, heads: HEADS } = GPT2;

function checkpointPlan(layers: number, seed: number): CheckpointPlan {
  return { config: gpt2Config(layers), tensors: gpt2Tensors(layers), seed, generator: 'scripts/bench-checkpoint.ts' };
}

/** Seeded token ids; the first ones sit on both sides of the embedding's row-block boundary. */
function tokenIds(T: number, seed: number, blockRows: number): number[] {
  const rng = new Rng(deriveSeed(seed, 'token ids'));
  const ids = Array.from({ length: T }, () => rng.int(VOCAB));
  const special = [VOCAB - 1, blockRows - 1, blockRows, 0].filter((id) => id < VOCAB);
  special.slice(0, T).forEach((id, i) => (ids[i] = id));
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Profile: GPT2LMHeadModel.forward cut into sections, the GPU synced after each one

async function profileForward(rt: GpuRuntime, model: GPT2LMHeadModel, ids: number[]): Promise<void> {
  const T = ids.length;
  const sections = new Map<string, { ms: number; dispatches: number }>();
  const meter = startMeter(rt, { byKernel: true });
  // Each section records its ops (noGrad, intermediates freed by tidy), then waits for the GPU.
  const time = async <R extends Tensor | null>(name: string, fn: () => R): Promise<R> => {
    const d0 = meter.read().dispatches;
    const t0 = performance.now();
    const out = tidy(() => noGrad(fn));
    await rt.sync();
    const s = sections.get(name) ?? { ms: 0, dispatches: 0 };
    s.ms += performance.now() - t0;
    s.dispatches += meter.read().dispatches - d0;
    sections.set(name, s);
    return out;
  };
  await rt.sync();
  const t0 = performance.now();
  try {
    let x = await time('embeddings (token + position)', () => add(model.wte.forward(ids, [1, T]), model.wpe.positions(T)));
    const mask = await time('causal mask', () => attentionMask(T, true, undefined));
    for (const block of model.blocks) {
      const a = await time('ln_1', () => block.ln1.forward(x));
      const attn = await time('attention (c_attn, scores, softmax, context, c_proj)', () => block.attention.forward(a, mask, null));
      const x1 = await time('residual adds', () => add(x, attn));
      const m = await time('ln_2', () => block.ln2.forward(x1));
      const mlp = await time('mlp (c_fc, gelu, c_proj)', () => block.mlp.forward(m));
      const x2 = await time('residual adds', () => add(x1, mlp));
      for (const t of [x, a, attn, x1, m, mlp]) t.dispose();
      x = x2;
    }
    mask?.dispose();
    const h = await time('ln_f + last position', () => slice(model.lnF.forward(x), 1, T - 1, T));
    x.dispose();
    const logits = await time('lm head (row blocks + concat)', () => lmHead(h, model.lmHeadWeight));
    h.dispose();
    const r0 = performance.now();
    await readAndDispose(logits);
    sections.set('read logits', { ms: performance.now() - r0, dispatches: 0 });
  } finally {
    meter.stop();
  }
  const total = performance.now() - t0;
  console.log(`\nProfile: forward of ${T} tokens, GPU synced after each section (total ${fmtS(total)})\n`);
  console.log('| section | time | share | dispatches |');
  console.log('|---|---:|---:|---:|');
  for (const [name, s] of [...sections].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`| ${name} | ${fmtS(s.ms)} | ${((100 * s.ms) / total).toFixed(1)}% | ${s.dispatches} |`);
  }
  console.log('\n| kernel key | dispatches | workgroups |');
  console.log('|---|---:|---:|');
  for (const k of meter.kernels().slice(0, 25)) {
    console.log(`| \`${k.key}\` | ${k.dispatches} | ${k.workgroups} |`);
  }
}

// ---------------------------------------------------------------------------------------------
// Checks of the row-block path against the checkpoint's own bytes

async function checkRowBlocks(model: GPT2LMHeadModel, dir: string, ids: number[], seed: number): Promise<string[]> {
  const lines: string[] = [];
  const wte = await (await readCheckpoint(dir)).getFloat32('transformer.wte.weight');
  const shards = model.wte.weight.rowShards();
  lines.push(`token embedding stored as ${shards.length} row block(s): ${shards.map((s) => `[${s.shape.join(', ')}]`).join(' + ')}`);

  const rows = await readAndDispose(tidy(() => noGrad(() => model.wte.forward(ids))));
  let embErr = 0;
  ids.forEach((id, t) => {
    for (let d = 0; d < HIDDEN; d++) embErr = Math.max(embErr, Math.abs(rows[t * HIDDEN + d]! - wte[id * HIDDEN + d]!));
  });
  lines.push(`embedding lookup of ${ids.length} ids (incl. ${ids.slice(0, 3).join(', ')}) vs checkpoint rows: max |diff| ${embErr.toExponential(2)}`);

  const rng = new Rng(deriveSeed(seed, 'lm head check'));
  const h = Float32Array.from({ length: HIDDEN }, () => rng.normal());
  const logits = await readAndDispose(tidy(() => noGrad(() => lmHead(Tensor.fromArray(h, [1, HIDDEN]), model.lmHeadWeight))));
  let worst = 0;
  let scale = 0;
  for (let v = 0; v < VOCAB; v++) {
    let ref = 0;
    for (let d = 0; d < HIDDEN; d++) ref += h[d]! * wte[v * HIDDEN + d]!;
    worst = Math.max(worst, Math.abs(logits[v]! - ref));
    scale = Math.max(scale, Math.abs(ref));
  }
  lines.push(`LM head over all ${VOCAB} rows vs float64 dot products: max |diff| ${worst.toExponential(2)} (max |logit| ${scale.toFixed(3)})`);
  return lines;
}

// ---------------------------------------------------------------------------------------------

async function main(o: Options): Promise<void> {
  const startLoad = loadavg();
  const rt = await initRuntime();
  const peaks = new Peaks(rt);
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'bench-model-')));
  const temporary = o.dir === null;
  const rows: Row[] = [];
  const checks: string[] = [];
  const held: { model?: GPT2LMHeadModel } = {};
  try {
    console.error(`bench-model: GPT-2 small shape, ${o.layers} layer(s), checkpoint in ${dir}`);
    const plan = checkpointPlan(o.layers, o.seed);
    const params = parameterCount(plan.tensors);
    if (await checkpointMatches(dir, plan)) {
      console.error('  checkpoint: reusing the one already there');
    } else {
      rows.push(await measure(rt, peaks, 'write checkpoint (not engine time)', async () => {
        await writeCheckpoint(dir, plan);
        return `${params.toLocaleString('en-US')} params`;
      }));
    }
    const fileBytes = (await stat(join(dir, 'model.safetensors'))).size;

    gc();
    const baseline = process.memoryUsage.rss();
    rows.push(await measure(rt, peaks, 'loadModel', async () => {
      const loaded = await loadModel(dir);
      if (!(loaded instanceof GPT2LMHeadModel)) throw new Error('bench-model: expected a GPT2LMHeadModel');
      held.model = loaded;
      await rt.sync();
      return `${fmtMiB(fileBytes)} file`;
    }));
    const m = held.model!;
    const blockRows = Math.floor(rt.maxBindingBytes / (HIDDEN * 4));

    for (const T of o.lengths) {
      const ids = tokenIds(T, o.seed, blockRows);
      for (let r = 1; r <= o.repeat; r++) {
        rows.push(await measure(rt, peaks, `forward ${T} tokens (run ${r})`, async () => {
          const logits = tidy(() => noGrad(() => m.forward({ ids: [ids] }, { lastPositionOnly: true })));
          const values = await readAndDispose(logits);
          if (values.length !== VOCAB) throw new Error(`bench-model: ${values.length} logits, expected ${VOCAB}`);
          let max = 0;
          for (const v of values) {
            if (!Number.isFinite(v)) throw new Error('bench-model: a logit is not finite');
            max = Math.max(max, Math.abs(v));
          }
          return `max |logit| ${max.toFixed(3)}`;
        }));
      }
    }

    for (const method of o.explainTokens > 0 ? o.methods : []) {
      const ids = tokenIds(o.explainTokens, o.seed, blockRows);
      rows.push(await measure(rt, peaks, `explain ${method} ${o.explainTokens} tokens`, async () => {
        const e = await explain(m, { ids: [ids] }, { method });
        const c = e.conservation;
        return `target ${e.target}, logit ${c.output.toFixed(4)}, input ${c.input.toFixed(4)}, bias ${c.bias.toFixed(4)}, unexplained share ${unexplainedFraction(c).toExponential(2)}, ledger remainder ${c.ledger.remainder.toExponential(2)}`;
      }));
    }

    if (o.profile) await profileForward(rt, m, tokenIds(Math.max(...o.lengths), o.seed, blockRows));

    checks.push(...(await checkRowBlocks(m, dir, tokenIds(8, o.seed, blockRows), o.seed)));

    const load = loadavg();
    const cpu = cpus();
    console.log(`\nGPT-2 small shape (vocab ${VOCAB}, n_embd ${HIDDEN}, n_layer ${o.layers}, n_head ${HEADS}), ${params.toLocaleString('en-US')} parameters, F32`);
    console.log(`Adapter: ${rt.adapterInfo.description} (${rt.adapterInfo.vendor}, ${rt.adapterInfo.architecture}); binding limit ${fmtMiB(rt.maxBindingBytes)}`);
    console.log(`Machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${fmtMiB(totalmem())} RAM; Node ${process.version}; load average at start ${startLoad.map((l) => l.toFixed(2)).join(' ')}, at end ${load.map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`RSS after runtime start, before load: ${fmtMiB(baseline)}; process peak (maxRSS): ${fmtMiB(process.resourceUsage().maxRSS * 1024)}\n`);
    console.log('| phase | time | CPU time | peak RSS | peak GPU pool (live + idle) | peak GPU live | dispatches | submits | new pipelines | notes |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const r of rows) {
      console.log(`| ${r.phase} | ${fmtS(r.ms)} | ${fmtS(r.cpuMs)} | ${fmtMiB(r.rss)} | ${fmtMiB(r.gpu)} | ${fmtMiB(r.gpuLive)} | ${r.dispatches} | ${r.submits} | ${r.newPipelines} | ${r.note} |`);
    }
    console.log('\nRow-block checks:');
    for (const line of checks) console.log(`- ${line}`);
  } finally {
    held.model?.dispose();
    if (temporary && !o.keep) await rm(dir, { recursive: true, force: true });
    else console.error(`checkpoint kept in ${dir}`);
  }
}

let options: Options | null = null;
// --config NAME: a published LLaMA-family config at full depth (scripts/bench-config.ts).
const configBench = process.argv.includes('--config');
try {
  if (!configBench) options = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 2;
}
if (configBench) {
  runConfigBench(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  });
} else if (options) {
  main(options).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  });
}
