/** Training building blocks: cross-entropy, AdamW against float64, clipping, the schedule, data. */
import { beforeAll, describe, expect, it } from 'vitest';
import { backward } from '../autograd/backward.js';
import { Tensor } from '../autograd/tensor.js';
import { crossEntropy, IGNORE_INDEX } from '../nn/train/loss.js';
import { AdamW, clipGlobalNorm } from '../nn/train/adamw.js';
import { learningRate } from '../nn/train/schedule.js';
import { batchAt, generateData } from '../nn/train/data.js';
import { TASKS } from '../nn/train/tasks/index.js';
import { Rng } from '../nn/train/rng.js';
import { expectClose, rng } from './helpers/close.js';
import { gpu } from './helpers/gpu.js';

beforeAll(async () => {
  await gpu();
});

describe('crossEntropy', () => {
  it('is the mean of −log softmax at the labels, ignoring ignore-index rows, with gradient (softmax − one-hot)/count', async () => {
    const next = rng(7);
    const N = 5;
    const C = 4;
    const values = Array.from({ length: N * C }, () => 4 * next() - 2);
    const labels = [2, IGNORE_INDEX, 0, 3, IGNORE_INDEX];
    const logits = Tensor.fromArray(values, [N, C]).setRequiresGrad();
    const loss = crossEntropy(logits, labels);
    backward(loss);
    // Independent float64 computation.
    let expected = 0;
    const grad = new Array<number>(N * C).fill(0);
    const kept = labels.filter((l) => l !== IGNORE_INDEX).length;
    labels.forEach((label, r) => {
      if (label === IGNORE_INDEX) return;
      const row = values.slice(r * C, r * C + C);
      const max = Math.max(...row);
      const z = row.reduce((a, v) => a + Math.exp(v - max), 0);
      expected += -(row[label]! - max - Math.log(z)) / kept;
      row.forEach((v, c) => (grad[r * C + c] = (Math.exp(v - max) / z - (c === label ? 1 : 0)) / kept));
    });
    expect(await loss.item()).toBeCloseTo(expected, 5);
    expectClose(await logits.grad!.toArray(), grad, { atol: 1e-6, rtol: 1e-4 });
    logits.dispose();
    loss.dispose();
  });

  it('rejects a label outside the classes and an all-ignored batch', () => {
    const logits = Tensor.fromArray([0, 1, 2, 3], [2, 2]);
    expect(() => crossEntropy(logits, [0, 2])).toThrow(/label 2 of row 1 is outside \[0, 2\)/);
    expect(() => crossEntropy(logits, [IGNORE_INDEX, IGNORE_INDEX])).toThrow(/every label is ignored/);
    logits.dispose();
  });
});

describe('AdamW', () => {
  it('matches a float64 reference (PyTorch AdamW formulas) step for step', () => {
    const next = rng(3);
    const sizes = [6, 3];
    const decays = [true, false];
    const lr = 0.01;
    const wd = 0.1;
    const params = sizes.map((n) => Float32Array.from({ length: n }, () => next() - 0.5));
    const ref = params.map((p) => Array.from(p));
    const m = sizes.map((n) => new Array<number>(n).fill(0));
    const v = sizes.map((n) => new Array<number>(n).fill(0));
    const opt = new AdamW(sizes, decays, { weightDecay: wd });
    for (let t = 1; t <= 20; t++) {
      const grads = sizes.map((n) => Float32Array.from({ length: n }, () => 2 * next() - 1));
      opt.step(params, grads, lr);
      ref.forEach((p, k) => {
        for (let i = 0; i < p.length; i++) {
          if (decays[k]) p[i] = p[i]! - lr * wd * p[i]!;
          m[k]![i] = 0.9 * m[k]![i]! + 0.1 * grads[k]![i]!;
          v[k]![i] = 0.999 * v[k]![i]! + 0.001 * grads[k]![i]! ** 2;
          const mHat = m[k]![i]! / (1 - 0.9 ** t);
          const vHat = v[k]![i]! / (1 - 0.999 ** t);
          p[i] = p[i]! - (lr * mHat) / (Math.sqrt(vHat) + 1e-8);
        }
        // float32 storage of the parameters is the only difference from the reference.
        expectClose(params[k]!, p, { rtol: 1e-6, atol: 1e-7 }, `step ${t} parameter ${k}`);
      });
    }
  });

  it('clipGlobalNorm scales all gradients together to the maximum norm', () => {
    const grads = [Float32Array.from([3, 0]), Float32Array.from([0, 4])];
    expect(clipGlobalNorm(grads, 1)).toBeCloseTo(5, 6);
    expectClose([...grads[0]!, ...grads[1]!], [0.6, 0, 0, 0.8]);
    const small = [Float32Array.from([0.3, 0.4])];
    expect(clipGlobalNorm(small, 1)).toBeCloseTo(0.5, 6);
    expectClose(small[0]!, [0.3, 0.4]);
  });
});

describe('learning-rate schedule', () => {
  it('warms up linearly, then follows a cosine to minRatio · peak', () => {
    const o = { peak: 1, warmupSteps: 10, totalSteps: 110, minRatio: 0.1 };
    expect(learningRate(0, o)).toBeCloseTo(0.1, 12);
    expect(learningRate(9, o)).toBeCloseTo(1, 12);
    expect(learningRate(10, o)).toBeCloseTo(1, 12);
    expect(learningRate(60, o)).toBeCloseTo(0.1 + 0.9 * 0.5, 12);
    expect(learningRate(110, o)).toBeCloseTo(0.1, 12);
  });
});

describe('tasks and data', () => {
  it('every example states ground-truth positions inside the sequence, and labels in range', () => {
    for (const task of TASKS) {
      const r = new Rng(11);
      for (let i = 0; i < 200; i++) {
        const e = task.generate(r);
        expect(e.groundTruth.positions.length).toBeGreaterThan(0);
        for (const p of e.groundTruth.positions) expect(p >= 0 && p < e.ids.length).toBe(true);
        const classes = task.labels?.length ?? task.vocab.length;
        expect(e.label >= 0 && e.label < classes).toBe(true);
        if (task.prependCls) expect(task.vocab[e.ids[0]!]).toBe('[CLS]');
      }
    }
  });

  it('is reproducible from the seed, and the held-out set is disjoint from the training set', () => {
    const task = TASKS[0]!;
    const settings = { seed: 9, trainSize: 500, heldoutSize: 50 };
    const a = generateData(task, settings);
    const b = generateData(task, settings);
    expect(a.train.length).toBe(500);
    expect(a.heldout.length).toBe(50);
    expect(a.heldout.map((e) => e.ids.join())).toEqual(b.heldout.map((e) => e.ids.join()));
    const train = new Set(a.train.map((e) => e.ids.join()));
    expect(a.heldout.some((e) => train.has(e.ids.join()))).toBe(false);
    // Each epoch is a permutation: 500 / 50 = 10 batches cover every example once.
    const epoch = Array.from({ length: 10 }, (_, s) => batchAt(a.train, 50, s, 9)).flat();
    expect(new Set(epoch).size).toBe(500);
    expect(batchAt(a.train, 50, 3, 9)).toEqual(batchAt(a.train, 50, 3, 9));
  });
});
