/** Training end to end on a tiny budget: the loss falls, checkpoints reload exactly, --resume is exact. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../autograd/graph.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { readTrainingState } from '../nn/train/checkpoint.js';
import { taskByName } from '../nn/train/tasks/index.js';
import { train } from '../nn/train/trainer.js';
import { main } from '../lrp/cli/run.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';

beforeAll(async () => {
  await gpu();
});

const task = taskByName('first-marked')!;
const settings = { steps: 6, batchSize: 16, learningRate: 1e-2, warmupSteps: 1, trainSize: 256, heldoutSize: 32, evalEvery: 3, stopAccuracy: 2 };
const probe = [
  [5, 17, 3, 18, 9, 9, 1, 2, 3, 4, 5, 6, 19],
  [18, 1, 2, 3, 4, 5, 6, 7, 8, 17, 10, 11, 19],
];

async function logits(model: TransformerModel): Promise<Float32Array> {
  const out = noGrad(() => model.forward({ ids: probe }, { lastPositionOnly: true }));
  const values = (await out.toArray()) as Float32Array;
  out.dispose();
  return values;
}

describe('train', () => {
  let straight: string;
  let straightLogits: Float32Array;

  it('lowers the loss within a few steps, and a reloaded checkpoint gives the same logits', async () => {
    straight = tempDir('train-');
    const { state, model } = await train(task, { out: straight, settings });
    straightLogits = await logits(model);
    model.dispose();
    expect(state.step).toBe(6);
    const losses = state.losses.map((l) => l.loss);
    // From ≈ ln 20 (uniform over the vocabulary) towards ln 2 (X or Y).
    expect(losses[0]).toBeGreaterThan(2);
    expect(Math.min(...losses.slice(-2))).toBeLessThan(losses[0]! - 0.5);
    const reloaded = await loadModel(straight);
    expect(Array.from(await logits(reloaded))).toEqual(Array.from(straightLogits));
    reloaded.dispose();
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'heldout.jsonl', 'training_state.json']) {
      expect(readFileSync(join(straight, file)).length).toBeGreaterThan(0);
    }
  });

  it('--resume continues exactly where an interrupted run stopped', async () => {
    const interrupted = tempDir('train-resume-');
    const first = await train(task, { out: interrupted, settings, stopAt: 3 });
    first.model.dispose();
    expect((await readTrainingState(interrupted)).step).toBe(3);
    const { state, model } = await train(task, { out: interrupted, resume: true });
    expect(state.step).toBe(6);
    expect(Array.from(await logits(model))).toEqual(Array.from(straightLogits));
    model.dispose();
    const straightState = await readTrainingState(straight);
    expect(state.losses).toEqual(straightState.losses);
    expect(readFileSync(join(interrupted, 'model.safetensors')).equals(readFileSync(join(straight, 'model.safetensors')))).toBe(true);
  });

  it('refuses to resume without a checkpoint', async () => {
    await expect(train(task, { out: tempDir('train-empty-'), resume: true })).rejects.toThrow(/no checkpoint to resume from/);
  });
});

describe('lrp train', () => {
  it('trains, writes a checkpoint, logs plain lines off a terminal and prints a JSON summary', async () => {
    const out = tempDir('lrp-train-');
    let stdout = '';
    let stderr = '';
    const code = await main(['train', '--task', 'token-at-k', '--out', out, '--steps', '2'], {
      stdout: { write: (s: string) => (stdout += s), isTTY: false },
      stderr: { write: (s: string) => (stderr += s), isTTY: false },
    });
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout) as { task: string; steps: number; heldoutAccuracy: number; out: string };
    expect(summary).toMatchObject({ task: 'token-at-k', steps: 2, out });
    expect(stderr).toMatch(/^token-at-k step 2 held-out accuracy \d+\.\d% \(checkpoint written to /m);
    expect((await readTrainingState(out)).step).toBe(2);
    const resumeWithout = await main(['train', '--task', 'sentiment', '--out', out, '--resume'], {
      stdout: { write: () => true, isTTY: false },
      stderr: { write: (s: string) => (stderr = s), isTTY: false },
    });
    expect(resumeWithout).toBe(2);
    expect(stderr).toMatch(/holds a checkpoint of task "token-at-k", not "sentiment"/);
  });
});
