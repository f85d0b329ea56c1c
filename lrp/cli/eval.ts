/**
 * `lrp eval (--task NAME | --model DIR) [--method gi,pa-lrp,...] [--n N] [--seed S]
 * [--label ID] [--format table|json]`: scores each method's explanations against the ground truth of a demo
 * model's held-out set (see lrp/evaluate.ts). `--task NAME` reads the shipped model models/NAME.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { loadModel } from '../../nn/folder.js';
import { TASK_NAMES } from '../../nn/train/tasks/index.js';
import { EVAL_METHODS, evaluateExplanations, formatScores, type EvalMethod } from '../evaluate.js';
import { readHeldout } from '../eval/heldout.js';
import { parseDtype, UsageError } from './args.js';
import { demoModelDir } from './paths.js';
import type { Io } from './run.js';

export const EVAL_USAGE = `usage: lrp eval (--task ${TASK_NAMES.join('|')} | --model DIR) [--method ${EVAL_METHODS.join(',')}] [--n N] [--seed S] [--label ID] [--format table|json] [--dtype auto|f32]`;

function nonNegativeInt(flag: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`${flag}: "${raw}" must be an integer >= ${min}`);
  return v;
}

export async function runEval(argv: string[], io: Io): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { task: { type: 'string' }, model: { type: 'string' }, method: { type: 'string' }, n: { type: 'string' }, seed: { type: 'string' }, label: { type: 'string' }, format: { type: 'string' }, dtype: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${EVAL_USAGE}`);
  }
  const dtype = parseDtype(values['dtype'] as string | undefined) ?? 'auto';
  const task = values['task'] as string | undefined;
  const modelArg = values['model'] as string | undefined;
  if ((task === undefined) === (modelArg === undefined)) throw new UsageError(`eval: give exactly one of --task or --model\n${EVAL_USAGE}`);
  if (task !== undefined && !TASK_NAMES.includes(task)) throw new UsageError(`eval: unknown task "${task}" (choose one of ${TASK_NAMES.join(', ')})`);
  const methods = ((values['method'] as string | undefined) ?? EVAL_METHODS.join(',')).split(',').map((m) => m.trim());
  for (const m of methods) {
    if (!EVAL_METHODS.includes(m as EvalMethod)) throw new UsageError(`eval: unknown method "${m}" (choose from ${EVAL_METHODS.join(', ')})`);
  }
  const n = nonNegativeInt('--n', values['n'] as string | undefined, 100, 1);
  const seed = nonNegativeInt('--seed', values['seed'] as string | undefined, 0, 0);
  const format = (values['format'] as string | undefined) ?? 'table';
  if (format !== 'table' && format !== 'json') throw new UsageError(`eval: --format must be table or json, got "${format}"`);

  const dir = modelArg ?? demoModelDir(task!);
  const all = await readHeldout(dir);
  // --label: only the examples of one class (or target token), to see how scores differ by answer.
  const label = values['label'] === undefined ? undefined : nonNegativeInt('--label', values['label'] as string, 0, 0);
  const heldout = label === undefined ? all : all.filter((e) => e.label === label);
  if (heldout.length === 0) throw new UsageError(`eval: no held-out example has label ${label}`);
  const model = await loadModel(dir, { dtype });
  const bar = io.stderr.isTTY ? new cliProgress.SingleBar({ format: 'explaining [{bar}] {value}/{total} | ETA {eta_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  try {
    const scores = await evaluateExplanations(model, heldout, {
      methods: methods as EvalMethod[],
      n,
      seed,
      onProgress: (done, total) => {
        if (!bar) return;
        if (done === 1) bar.start(total, 0);
        bar.update(done);
      },
    });
    bar?.stop();
    const examples = scores[0]?.examples ?? 0;
    if (format === 'json') {
      io.stdout.write(`${JSON.stringify({ model: task ? `models/${task}` : dir, task: task ?? null, label: label ?? null, examples, seed, methods: scores }, null, 2)}\n`);
    } else {
      io.stdout.write(`${model.info.architecture} (${model.info.positional} positions), ${examples} held-out examples${label === undefined ? '' : ` with label ${label}`}, seed ${seed}\n${formatScores(scores)}\n`);
    }
    return 0;
  } finally {
    bar?.stop();
    model.dispose();
  }
}
