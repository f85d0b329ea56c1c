/**
 * `lrp train --task NAME --out DIR [--resume] [--steps N] [--seed N]`: trains a demo task's model
 * with the engine and writes a Hugging Face checkpoint to DIR. A progress bar with ETA on a
 * terminal (cli-progress), plain log lines otherwise.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { TASK_NAMES, taskByName } from '../../nn/train/tasks/index.js';
import { train } from '../../nn/train/trainer.js';
import type { TrainingSettings } from '../../nn/train/tasks/types.js';
import { UsageError } from './args.js';
import type { Io } from './run.js';

export const TRAIN_USAGE = `usage: lrp train --task ${TASK_NAMES.join('|')} --out DIR [--resume] [--steps N] [--seed N]`;

function positiveInt(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v <= 0) throw new UsageError(`${flag}: "${raw}" is not a positive integer`);
  return v;
}

export async function runTrain(argv: string[], io: Io): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { task: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' }, steps: { type: 'string' }, seed: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${TRAIN_USAGE}`);
  }
  const name = values['task'] as string | undefined;
  const out = values['out'] as string | undefined;
  if (!name || !out) throw new UsageError(`train: --task and --out are required\n${TRAIN_USAGE}`);
  const task = taskByName(name);
  if (!task) throw new UsageError(`train: unknown task "${name}" (choose one of ${TASK_NAMES.join(', ')})`);
  const settings: Partial<TrainingSettings> = {};
  const steps = positiveInt('--steps', values['steps'] as string | undefined);
  const seed = positiveInt('--seed', values['seed'] as string | undefined);
  if (steps !== undefined) settings.steps = steps;
  if (seed !== undefined) settings.seed = seed;

  const tty = io.stderr.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: `${task.name} [{bar}] {value}/{total} | loss {loss} | held-out {acc} | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let started = false;
  let lastAccuracy = '-';
  const logEvery = 50;
  let result;
  try {
    result = await train(task, {
      out,
      resume: values['resume'] === true,
      settings,
      events: {
        step(step, total, loss, lr) {
          if (bar) {
            if (!started) bar.start(total, step - 1, { loss: '-', acc: lastAccuracy });
            started = true;
            bar.update(step, { loss: loss.toFixed(4), acc: lastAccuracy });
          } else if (step % logEvery === 0 || step === total) {
            io.stderr.write(`${task.name} step ${step}/${total} loss ${loss.toFixed(4)} lr ${lr.toExponential(2)}\n`);
          }
        },
        eval(step, accuracy) {
          lastAccuracy = `${(100 * accuracy).toFixed(1)}%`;
          bar?.update(step, { acc: lastAccuracy });
          if (!bar) io.stderr.write(`${task.name} step ${step} held-out accuracy ${lastAccuracy} (checkpoint written to ${out})\n`);
        },
      },
    });
  } finally {
    bar?.stop();
  }
  const { state, model } = result;
  model.dispose();
  io.stdout.write(
    `${JSON.stringify({ task: task.name, steps: state.step, heldoutAccuracy: state.heldoutAccuracy, trainSeconds: Math.round(state.trainSeconds * 10) / 10, parameters: state.parameters, out })}\n`,
  );
  return 0;
}
