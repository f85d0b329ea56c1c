/**
 * Seeded data: a fixed training set, a held-out set disjoint from it, and the batch of each step
 * (a fresh permutation per epoch, derived from the seed and the epoch number alone, so a resumed
 * run sees exactly the batches an uninterrupted one would).
 */
import { deriveSeed, Rng } from './rng.js';
import type { Example, Task, TrainingSettings } from './tasks/types.js';

/** A task's examples: the training set and a disjoint held-out set. */
export interface TaskData {
  /** Training examples, in generation order. */
  train: Example[];
  /** Held-out examples: none equals a training example. */
  heldout: Example[];
}

/**
 * Generates the training and held-out sets from the seed (each from its own derived stream); throws
 * when the task cannot produce enough held-out examples unseen in training.
 */
export function generateData(task: Task, settings: Pick<TrainingSettings, 'seed' | 'trainSize' | 'heldoutSize'> = task.training): TaskData {
  const { seed, trainSize, heldoutSize } = settings;
  const trainRng = new Rng(deriveSeed(seed, 'train'));
  const train = Array.from({ length: trainSize }, () => task.generate(trainRng));
  const seen = new Set(train.map((e) => e.ids.join(',')));
  const heldoutRng = new Rng(deriveSeed(seed, 'heldout'));
  const heldout: Example[] = [];
  for (let tries = 0; heldout.length < heldoutSize; tries++) {
    if (tries > heldoutSize * 100) throw new Error(`${task.name}: cannot find ${heldoutSize} held-out examples outside the training set`);
    const e = task.generate(heldoutRng);
    const key = e.ids.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    heldout.push(e);
  }
  return { train, heldout };
}

/** The examples of 0-based `step`. */
export function batchAt(train: readonly Example[], batchSize: number, step: number, seed: number): Example[] {
  const perEpoch = Math.floor(train.length / batchSize);
  if (perEpoch === 0) throw new Error(`the training set (${train.length}) is smaller than one batch (${batchSize})`);
  const epoch = Math.floor(step / perEpoch);
  const order = new Rng(deriveSeed(seed, `epoch ${epoch}`)).shuffle(train.map((_, i) => i));
  const start = (step % perEpoch) * batchSize;
  return order.slice(start, start + batchSize).map((i) => train[i]!);
}
