/**
 * `lrp eval-perturbation`: the CP-LRP / PA-LRP perturbation protocols over a JSONL data set.
 * Everything the user gave is checked (arguments, model, every data line, the output folder)
 * before the first file is written; then each example's result is appended as it finishes, so
 * `--resume` continues a killed run without losing or repeating work.
 */
import { mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError } from '../../kernels/errors.js';
import { NoAdapterError } from '../../kernels/runtime.js';
import { loadModel } from '../../nn/folder.js';
import type { TransformerModel } from '../../nn/models/types.js';
import { type TextTokenizer } from '../../nn/tokenizer.js';
import { loadTokenizer } from '../../nn/folder.js';
import { readExamples } from '../eval/data.js';
import { appendResult, modelChecksum, readResults, readSettings, settingsDifference, sha256File, writeAtomically, SETTINGS_FILE, type RunSettings, type SettingsFile, type Shard } from '../eval/files.js';
import { evaluateExample, type EvalMethod, type RankBy, type RunContext } from '../eval/protocol.js';
import { createProgress } from '../eval/progress.js';
import { writeReport } from '../eval/report.js';
import { inShard, resolveShard, shardFolder } from '../eval/shard.js';
import { markdownTable, summarize } from '../eval/summary.js';
import { concreteReplaceOption, parseReplaceOption, readTokenInfo, resolveReplacement } from '../eval/tokens.js';
import { METHOD_NAMES } from '../methods.js';
import type { PositionAggregation } from '../result.js';
import { debugRequested, describeFailure, exitCodeFor, type Io as EvalIo } from './failures.js';
import { parseDtype } from './args.js';
import type { WeightDtype } from '../../nn/upload.js';

export const EVAL_PERTURBATION_USAGE = `usage:
  lrp eval-perturbation --model DIR --data FILE.jsonl [--method M[,M...]] [--out DIR]
      [--replace unk|pad|mask|id:N|zero-embedding|auto] [--steps 10] [--rank-by token|total]
      [--position-aggregation signed|abs] [--all] [--seed 0] [--batch-size 64]
      [--shard K/N | --shard-count N] [--resume] [--max-examples K] [--dtype auto|f32]

Methods: ${METHOD_NAMES.join(', ')}, random (gi and random are always included).
Writes DIR/settings.json, DIR/results.jsonl (one line per example, as it finishes),
DIR/summary.json, DIR/table.md and one SVG chart per protocol. Sharded runs write to
DIR/shard-K-of-N; combine them with lrp eval-merge. --replace auto takes the model's unk,
else pad, else mask token, else zero-embedding.`;

const ALL_METHODS: readonly EvalMethod[] = [...METHOD_NAMES, 'random'];

interface Options {
  model: string;
  data: string;
  methods: EvalMethod[];
  out: string;
  replace: string;
  steps: number;
  rankBy: RankBy;
  positionAggregation: PositionAggregation;
  all: boolean;
  seed: number;
  batchSize: number;
  resume: boolean;
  maxExamples: number;
  /** How weights are held on the GPU (results are the same either way). */
  dtype: WeightDtype;
  shard?: string;
  shardCount?: string;
}

function positiveInteger(flag: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(v) || v < min) throw new InputError(`${flag}: "${raw}" is not an integer >= ${min}`);
  return v;
}

function parseOptions(argv: string[]): Options | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        data: { type: 'string' },
        method: { type: 'string' },
        out: { type: 'string' },
        replace: { type: 'string' },
        steps: { type: 'string' },
        'rank-by': { type: 'string' },
        'position-aggregation': { type: 'string' },
        all: { type: 'boolean' },
        seed: { type: 'string' },
        'batch-size': { type: 'string' },
        resume: { type: 'boolean' },
        'max-examples': { type: 'string' },
        shard: { type: 'string' },
        'shard-count': { type: 'string' },
        dtype: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new InputError(`${(error as Error).message}\n${EVAL_PERTURBATION_USAGE}`);
  }
  if (values['help']) return 'help';
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const model = str('model');
  const data = str('data');
  if (!model || !data) throw new InputError(`eval-perturbation: --model DIR and --data FILE.jsonl are required\n${EVAL_PERTURBATION_USAGE}`);
  const requested = (str('method') ?? METHOD_NAMES.join(',')).split(',').map((m) => m.trim());
  for (const m of requested) {
    if (!(ALL_METHODS as readonly string[]).includes(m)) throw new InputError(`--method: unknown method "${m}" (choose from ${ALL_METHODS.join(', ')})`);
  }
  // The baseline and GI are in every table; the order is fixed so settings compare equal.
  const methods = ALL_METHODS.filter((m) => m === 'gi' || m === 'random' || requested.includes(m));
  const rankBy = str('rank-by') ?? 'token';
  if (rankBy !== 'token' && rankBy !== 'total') throw new InputError(`--rank-by must be token or total, got "${rankBy}"`);
  const aggregation = str('position-aggregation') ?? 'signed';
  if (aggregation !== 'signed' && aggregation !== 'abs') throw new InputError(`--position-aggregation must be signed or abs, got "${aggregation}"`);
  const replace = parseReplaceOption(str('replace') ?? 'unk');
  const options: Options = {
    model,
    data,
    methods,
    out: str('out') ?? 'perturbation-eval',
    replace,
    steps: positiveInteger('--steps', str('steps'), 10),
    rankBy,
    positionAggregation: aggregation,
    all: values['all'] === true,
    seed: positiveInteger('--seed', str('seed'), 0, 0),
    batchSize: positiveInteger('--batch-size', str('batch-size'), 64),
    resume: values['resume'] === true,
    maxExamples: positiveInteger('--max-examples', str('max-examples'), Number.MAX_SAFE_INTEGER),
    dtype: parseDtype(str('dtype')) ?? 'auto',
  };
  if (str('shard') !== undefined) options.shard = str('shard')!;
  if (str('shard-count') !== undefined) options.shardCount = str('shard-count')!;
  return options;
}

async function loadTextModel(dir: string, dtype: WeightDtype): Promise<TransformerModel> {
  let model: TransformerModel;
  try {
    model = await loadModel(dir, { dtype });
  } catch (error) {
    if (error instanceof NoAdapterError || (error instanceof Error && error.message.startsWith('WebGPU reported'))) throw error;
    throw new InputError(`--model ${dir}: ${(error as Error).message}`);
  }
  if (model.info.image) {
    model.dispose();
    throw new InputError(`--model ${dir}: ${model.info.architecture} takes images; perturbation evaluation needs a text model`);
  }
  return model;
}

export async function runEvalPerturbation(argv: string[], io: EvalIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const options = parseOptions(argv);
    if (options === 'help') {
      io.stdout.write(`${EVAL_PERTURBATION_USAGE}\n`);
      return 0;
    }
    const shard = resolveShard(options.shard, options.shardCount, env);
    const model = await loadTextModel(options.model, options.dtype);
    try {
      return await evaluate(options, shard, model, io);
    } finally {
      model.dispose();
    }
  } catch (error) {
    const code = exitCodeFor(error);
    io.stderr.write(describeFailure(error, code, debugRequested()));
    return code;
  }
}

async function evaluate(options: Options, shard: Shard, model: TransformerModel, io: EvalIo): Promise<number> {
  const info = model.info;
  const tokens = await readTokenInfo(options.model);
  const replace = concreteReplaceOption(parseReplaceOption(options.replace), tokens);
  const replacement = resolveReplacement(replace, tokens, info.vocabSize);
  let tokenizer: Promise<TextTokenizer> | null = null;
  const examples = await readExamples(options.data, {
    vocabSize: info.vocabSize,
    maxPositions: info.maxPositions,
    classes: info.kind === 'classifier' ? info.numLabels ?? 0 : info.vocabSize,
    tokenizer: () => (tokenizer ??= loadTokenizer(options.model).catch((error: Error) => Promise.reject(new InputError(error.message)))),
  });
  const mine = examples.filter((e) => inShard(e.index, shard));
  const settings: RunSettings = {
    methods: options.methods,
    steps: options.steps,
    replace,
    rankBy: options.rankBy,
    positionAggregation: options.positionAggregation,
    all: options.all,
    seed: options.seed,
    model: { name: basename(resolve(options.model)), sha256: await modelChecksum(options.model) },
    data: { name: basename(options.data), sha256: await sha256File(options.data), examples: examples.length },
  };
  const folder = shardFolder(shard);
  const outDir = folder ? join(options.out, folder) : options.out;
  const existing = await readSettings(outDir);
  if (existing && !options.resume) throw new InputError(`--out ${outDir} already holds a run: pass --resume to continue it, or choose another --out`);
  if (existing) {
    const diff = settingsDifference(existing.settings, settings);
    if (diff) throw new InputError(`--resume: ${outDir} was run with other settings (${diff})`);
    if (existing.shard.index !== shard.index || existing.shard.count !== shard.count) {
      throw new InputError(`--resume: ${outDir} is shard ${existing.shard.index}/${existing.shard.count}, not ${shard.index}/${shard.count}`);
    }
  }
  // Everything is checked: from here on files are written.
  try {
    await mkdir(outDir, { recursive: true });
    if (!existing) {
      const file: SettingsFile = { settings, shard, examples: mine.length };
      await writeAtomically(join(outDir, SETTINGS_FILE), `${JSON.stringify(file, null, 2)}\n`);
    }
  } catch (error) {
    throw new InputError(`--out ${outDir}: cannot write there (${(error as Error).message})`);
  }
  const done = new Set((await readResults(outDir, true)).map((r) => r.index));
  const todo = mine.filter((e) => !done.has(e.index)).slice(0, options.maxExamples);

  const ctx: RunContext = {
    model,
    settings: { methods: settings.methods, steps: settings.steps, rankBy: settings.rankBy, positionAggregation: settings.positionAggregation, includeAll: settings.all, seed: settings.seed, replacement },
    specialIds: tokens.specialIds,
    batchSize: options.batchSize,
  };
  const label = shard.count > 1 ? `eval-perturbation [shard ${shard.index}/${shard.count}]` : 'eval-perturbation';
  const progress = createProgress(io.stderr, done.size + todo.length, done.size, label);
  try {
    for (const example of todo) {
      const result = await evaluateExample(ctx, example);
      await appendResult(outDir, result);
      progress.tick(result.skipped);
    }
  } finally {
    progress.stop();
  }
  const results = await readResults(outDir);
  const summary = summarize(settings, [shard], results, mine.length);
  const written = await writeReport(outDir, summary);
  io.stdout.write(markdownTable(summary));
  const files = written.map((p) => basename(p)).join(', ');
  io.stdout.write(`${summary.complete ? '' : `stopped after ${results.length}/${mine.length} examples (continue with --resume); `}wrote ${files} to ${outDir}\n`);
  return 0;
}
