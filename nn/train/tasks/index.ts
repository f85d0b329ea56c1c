/** The demo tasks by name: one per positional-encoding family, plus a position-only task. */
import { firstMarked } from './firstMarked.js';
import { markerCopy } from './markerCopy.js';
import { markerHalf } from './markerHalf.js';
import { sentiment } from './sentiment.js';
import { tokenAtK } from './tokenAtK.js';
import type { Task } from './types.js';

/** The demo tasks. */
export const TASKS: readonly Task[] = [markerCopy, firstMarked, tokenAtK, sentiment, markerHalf];

/** Their names, for the CLI. */
export const TASK_NAMES = TASKS.map((t) => t.name);

/** The task named `name`, if any. */
export function taskByName(name: string): Task | undefined {
  return TASKS.find((t) => t.name === name);
}

export type { Task, Example, GroundTruth, Evidence, TrainingSettings } from './types.js';
