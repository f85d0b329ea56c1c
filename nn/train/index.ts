/**
 * Training with the engine: loss, optimiser, schedule, seeded data, the demo tasks. Portable; the
 * training loop with its checkpoints on disk (`train`) is Node-only (node.ts).
 */
export { crossEntropy, IGNORE_INDEX } from './loss.js';
export { AdamW, clipGlobalNorm, type AdamWOptions, type AdamWState } from './adamw.js';
export { learningRate, type ScheduleOptions } from './schedule.js';
export { Rng, deriveSeed } from './rng.js';
export { generateData, batchAt, type TaskData } from './data.js';
export { TrainableParameters } from './parameters.js';
export { accuracy, predict, lossAndGradients } from './step.js';
export { tokenizerJson } from './tokenizerJson.js';
export { TASKS, TASK_NAMES, taskByName, type Task, type Example, type GroundTruth, type Evidence, type TrainingSettings } from './tasks/index.js';
