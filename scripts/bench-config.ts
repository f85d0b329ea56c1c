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
import { mkdir, mkdtemp, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import { initRuntime } from '../kernels/dawn.js';
import { explain } from '../lrp/explain.js';
import { isMethodName, METHOD_NAMES } from '../lrp/methods.js';
import type { MethodName } from '../lrp/result.js';
import { ConfigReader, type JsonObject } from '../nn/config.js';
import { buildModel } from '../nn/load.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { checkWeightDtype, type WeightDtype } from '../nn/upload.js';
import { fillNormal, fmtMiB, fmtS, gc, measure, Peaks, readAndDispose, sfc32, type Row } from './bench-shared.js';
import { PUBLISHED_CONFIGS } from './published-configs.js';
import { unexplainedFraction } from '../lrp/conservation.js';

export const BENCH_CONFIGS: Readonly<Record<string, string>> = {
  'SmolLM2-135M': 'HuggingFaceTB/SmolLM2-135M',
  'Qwen2.5-0.5B': 'Qwen/Qwen2.5-0.5B',
  'Qwen3-0.6B': 'Qwen/Qwen3-0.6B',
  'Llama-3.2-1B': 'meta-llama/Llama-3.2-1B',
};

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
  const o: ConfigOptions = { name: '', tokens: 128, methods: ['pa-lrp'], dtype: 'BF16', loadDtype: 'auto', layers: null, dir: null, seed: 1, keep: false };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: expected an integer >= ${min}, got ${v ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string | undefined => argv[++i];
    switch (flag) {
      case '--config': o.name = value() ?? ''; break;
      case '--tokens': o.tokens = int(flag, value(), 1); break;
      case '--methods':
        o.methods = (value() ?? '').split(',').filter((m) => m !== '').map((m) => {
          if (!isMethodName(m)) throw new Error(`--methods: unknown method ${m} (choose from ${METHOD_NAMES.join(', ')})`);
          return m;
        });
        break;
      case '--dtype': {
        const d = value();
        if (d !== 'F32' && d !== 'BF16') throw new Error(`--dtype: F32 or BF16, got ${d ?? 'nothing'}`);
        o.dtype = d;
        break;
      }
      case '--load-dtype': o.loadDtype = checkWeightDtype(value(), '--load-dtype'); break;
      case '--layers': o.layers = int(flag, value(), 1); break;
      case '--dir': o.dir = value() ?? null; break;
      case '--seed': o.seed = int(flag, value(), 0); break;
      case '--keep': o.keep = true; break;
      default: throw new Error(`bench-model --config: unknown argument ${flag} (see scripts/bench-config.ts)`);
    }
  }
  if (!BENCH_CONFIGS[o.name]) throw new Error(`--config: one of ${Object.keys(BENCH_CONFIGS).join(', ')}, got "${o.name}"`);
  return o;
}

interface TensorPlan {
  name: string;
  shape: number[];
  /** HF's init: N(0, initializer_range) for matrices, 1 for norm gains, 0 for biases. */
  init: { normal: number } | { constant: number };
}

/** The tensors the family declares for this config, named and shaped as the checkpoint stores them. */
function tensorPlan(config: JsonObject): TensorPlan[] {
  const model = buildModel(new ConfigReader(config, 'config.json'));
  const std = typeof config['initializer_range'] === 'number' ? config['initializer_range'] : 0.02;
  const unique = [...new Map(model.parameters().map((p) => [p.name, p])).values()];
  return unique.map((p) => ({
    name: p.name,
    shape: [...p.spec.shape],
    init: p.name.endsWith('.bias') ? { constant: 0 } : p.spec.shape.length === 1 ? { constant: 1 } : { normal: std },
  }));
}

const numelOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const BYTES: Record<StoreDtype, number> = { F32: 4, BF16: 2 };

function header(tensors: TensorPlan[], dtype: StoreDtype, seed: number): Buffer {
  const h: Record<string, unknown> = { __metadata__: { format: 'pt', generator: 'scripts/bench-config.ts', seed: String(seed) } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = numelOf(t.shape) * BYTES[dtype];
    h[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(h);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const out = Buffer.alloc(8 + Buffer.byteLength(json));
  out.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  out.write(json, 8, 'utf8');
  return out;
}

/** f32 → bf16 with round-to-nearest-even, as torch's cast does. */
function toBf16(values: Float32Array, out: Uint16Array): void {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) {
    const b = bits[i]!;
    out[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
  }
}

const CHUNK = 1 << 20;

async function writeCheckpoint(dir: string, config: JsonObject, tensors: TensorPlan[], dtype: StoreDtype, seed: number): Promise<number> {
  await mkdir(dir, { recursive: true });
  const partial = join(dir, 'model.safetensors.partial');
  const file = await open(partial, 'w');
  try {
    await file.write(header(tensors, dtype, seed));
    const chunk = new Float32Array(CHUNK);
    const half = new Uint16Array(CHUNK);
    for (const [index, t] of tensors.entries()) {
      const uniform = sfc32(seed, index + 1);
      let left = numelOf(t.shape);
      while (left > 0) {
        const part = chunk.subarray(0, Math.min(CHUNK, left));
        if ('normal' in t.init) fillNormal(part, t.init.normal, uniform);
        else part.fill(t.init.constant);
        if (dtype === 'F32') await file.write(new Uint8Array(part.buffer, 0, part.byteLength));
        else {
          const h = half.subarray(0, part.length);
          toBf16(part, h);
          await file.write(new Uint8Array(h.buffer, 0, h.byteLength));
        }
        left -= part.length;
      }
    }
  } finally {
    await file.close();
  }
  await rename(partial, join(dir, 'model.safetensors'));
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  return (await stat(join(dir, 'model.safetensors'))).size;
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
    const tensors = tensorPlan(config);
    const params = tensors.reduce((n, t) => n + numelOf(t.shape), 0);
    console.error(`bench-model --config ${o.name}: ${params.toLocaleString('en-US')} parameters, ${o.dtype}, checkpoint in ${dir}`);
    let fileBytes = 0;
    rows.push(await measure(rt, peaks, 'write checkpoint (not engine time)', async () => {
      fileBytes = await writeCheckpoint(dir, config, tensors, o.dtype, o.seed);
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
    const uniform = sfc32(o.seed, 0x7e57);
    const ids = Array.from({ length: o.tokens }, () => Math.floor(uniform() * model.info.vocabSize));
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
