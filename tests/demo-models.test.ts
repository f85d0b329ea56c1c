/**
 * The shipped demo models (models/<task>): they load without a network, reach the held-out
 * accuracy their training recorded, their tokenizers reproduce the held-out ids from the text,
 * and `lrp eval` returns the recorded scores.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../nn/folder.js';
import { loadTokenizer } from '../nn/folder.js';
import { TASKS } from '../nn/train/tasks/index.js';
import { predict } from '../nn/train/step.js';
import type { TrainingState } from '../nn/train/checkpoint.js';
import { demoModelDir } from '../lrp/cli/paths.js';
import type { MethodScores } from '../lrp/evaluate.js';
import { readHeldout } from '../lrp/eval/heldout.js';
import { runCli } from './helpers/cli.js';
import { gpu } from './helpers/gpu.js';

beforeAll(async () => {
  await gpu();
});

const run = runCli;

describe.each(TASKS.map((t) => [t.name, t] as const))('demo model %s', (name, task) => {
  const dir = demoModelDir(name);

  it('reaches its recorded held-out accuracy (≥ 97 %)', async () => {
    const state = JSON.parse(readFileSync(join(dir, 'training_state.json'), 'utf8')) as TrainingState;
    const heldout = await readHeldout(dir);
    expect(heldout.length).toBe(task.training.heldoutSize);
    const model = await loadModel(dir);
    const predictions = await predict(model, heldout);
    model.dispose();
    const accuracy = predictions.filter((p, i) => p === heldout[i]!.label).length / heldout.length;
    expect(state.heldoutAccuracy).toBeGreaterThanOrEqual(0.97);
    // The same adapter gives the same number; another may flip an example on a near tie.
    expect(Math.abs(accuracy - state.heldoutAccuracy)).toBeLessThanOrEqual(2 / heldout.length);
  });

  it('has a word-level tokenizer that turns the held-out text back into its ids', async () => {
    const tokenizer = await loadTokenizer(dir);
    for (const e of (await readHeldout(dir)).slice(0, 20)) expect(tokenizer.encode(e.text).ids).toEqual(e.ids);
  });
});

describe('lrp eval', () => {
  it('returns the recorded scores on a shipped model (fixed seed)', async () => {
    const recorded = JSON.parse(readFileSync('tests/fixtures/eval/first-marked-n10.json', 'utf8')) as { methods: MethodScores[] };
    const { code, stdout } = await run('eval', '--task', 'first-marked', '--n', '10', '--method', 'gi,pa-lrp,random', '--format', 'json');
    expect(code).toBe(0);
    const got = (JSON.parse(stdout) as { methods: MethodScores[] }).methods;
    expect(got.map((m) => m.method)).toEqual(['gi', 'pa-lrp', 'random']);
    got.forEach((m, i) => {
      const r = recorded.methods[i]!;
      expect(m.top1).toBeCloseTo(r.top1, 6);
      expect(m.top1OffReadout).toBeCloseTo(r.top1OffReadout, 6);
      expect(m.groundTruthMass).toBeCloseTo(r.groundTruthMass, 3);
      expect(m.positionalShare).toBeCloseTo(r.positionalShare, 3);
    });
  });

  it('prints a table by default and rejects bad input with exit code 2', async () => {
    const table = await run('eval', '--task', 'first-marked', '--n', '2', '--method', 'random');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/method\s+top-1 hit\s+top-1 off read-out\s+GT mass/);
    expect(table.stdout).toMatch(/^random\s+\d+\.\d%/m);
    for (const argv of [
      ['eval', '--task', 'nope'],
      ['eval', '--task', 'first-marked', '--method', 'lime'],
      ['eval', '--task', 'first-marked', '--n', '0'],
      ['eval'],
      ['train', '--task', 'nope', '--out', '/tmp/x'],
      ['train', '--task', 'first-marked'],
      ['train', '--task', 'first-marked', '--out', '/tmp/x', '--steps', '-3'],
    ]) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^lrp: /);
      expect(r.stdout).toBe('');
    }
  });
});
