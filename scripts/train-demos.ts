/**
 * `npm run train:demos`: retrains every demo model (or the tasks named on the command line) from
 * its seed into models/<task>, one after the other, and prints steps, held-out accuracy and time.
 */
import { TASKS, taskByName } from '../nn/train/tasks/index.js';
import { train } from '../nn/train/trainer.js';
import { demoModelDir } from '../lrp/cli/paths.js';

const names = process.argv.slice(2);
const tasks = names.length > 0 ? names.map((n) => taskByName(n) ?? (() => { throw new Error(`unknown task ${n}`); })()) : TASKS;
const rows: string[] = [];
for (const task of tasks) {
  const out = demoModelDir(task.name);
  const { state, model } = await train(task, {
    out,
    events: {
      eval: (step, accuracy) => process.stderr.write(`${task.name}: step ${step}, held-out accuracy ${(100 * accuracy).toFixed(1)}%\n`),
    },
  });
  model.dispose();
  rows.push(`${task.name.padEnd(14)} ${String(state.step).padStart(5)} steps  ${(100 * state.heldoutAccuracy).toFixed(1).padStart(5)}%  ${state.trainSeconds.toFixed(0).padStart(5)} s  ${out}`);
}
process.stdout.write(`task            steps  held-out  train time\n${rows.join('\n')}\n`);
