/**
 * train(task): builds the task's model, initialises it from the seed (or resumes from the last
 * checkpoint in `out`), and runs AdamW with warm-up + cosine decay and global-norm clipping,
 * measuring held-out accuracy every `evalEvery` steps and writing a checkpoint each time.
 */
import { ComputationError, InputError } from '../../kernels/errors.js';
import { initRuntime } from '../../kernels/runtime.js';
import { ConfigReader } from '../config.js';
import { buildModel } from '../load.js';
import { loadModel } from '../folder.js';
import type { TransformerModel } from '../models/types.js';
import { AdamW, clipGlobalNorm } from './adamw.js';
import { readOptimizerState, readTrainingState, saveCheckpoint, type TrainingState } from './checkpoint.js';
import { batchAt, generateData } from './data.js';
import { TrainableParameters } from './parameters.js';
import { deriveSeed, Rng } from './rng.js';
import { learningRate } from './schedule.js';
import { accuracy, lossAndGradients } from './step.js';
import type { Task, TrainingSettings } from './tasks/types.js';

/** Progress callbacks of `train`. */
export interface TrainEvents {
  /** After each step. */
  step?(step: number, total: number, loss: number, lr: number): void;
  /** After each held-out evaluation (and checkpoint). */
  eval?(step: number, accuracy: number): void;
}

/** Options of `train`. */
export interface TrainOptions {
  /** Checkpoint directory: written at every evaluation (a loadable model folder). */
  out: string;
  /** Continue from the checkpoint in `out`. */
  resume?: boolean;
  /** Overrides of the task's settings (e.g. fewer steps in tests). */
  settings?: Partial<TrainingSettings>;
  /** Stop after this step (exclusive end) even if the schedule runs longer: for tests of --resume. */
  stopAt?: number;
  /** Progress callbacks. */
  events?: TrainEvents;
}

/** What `train` ends with. */
export interface TrainResult {
  /** The final training state (as saved in training_state.json). */
  state: TrainingState;
  /** The trained model, on the GPU (the caller disposes it). */
  model: TransformerModel;
}

/**
 * Trains `task`'s model from its seed (or resumes from `out`), writing a checkpoint at every
 * evaluation; stops at the last step or once held-out accuracy reaches the task's target. Throws an
 * InputError when `resume` finds no checkpoint (or one of another task), a ComputationError when the loss becomes non-finite.
 */
export async function train(task: Task, options: TrainOptions): Promise<TrainResult> {
  await initRuntime();
  // A resumed run keeps the settings it started with (seed, batch size, schedule) unless overridden.
  const resumed = options.resume ? await readTrainingState(options.out) : null;
  if (resumed && resumed.task !== task.name) throw new InputError(`${options.out}: holds a checkpoint of task "${resumed.task}", not "${task.name}"`);
  const settings: TrainingSettings = { ...task.training, ...resumed?.settings, ...options.settings };
  const data = generateData(task, settings);
  const config = new ConfigReader({ ...task.config, vocab_size: task.vocab.length }, `${task.name} config`);

  let model: TransformerModel;
  let state: TrainingState;
  let params: TrainableParameters;
  const optimizerFor = (p: TrainableParameters): AdamW =>
    new AdamW(p.sizes, p.decays, { weightDecay: settings.weightDecay });
  let optimizer: AdamW;
  if (resumed) {
    state = { ...resumed, settings };
    // f32 storage: parameters that train need gradients, which 16-bit storage cannot hold.
    model = await loadModel(options.out, { dtype: 'f32' });
    params = new TrainableParameters(model);
    await params.download();
    optimizer = optimizerFor(params);
    optimizer.state = await readOptimizerState(options.out, params, state.step);
  } else {
    model = buildModel(config);
    params = new TrainableParameters(model);
    params.initialise(new Rng(deriveSeed(settings.seed, 'init')), settings.initStd);
    optimizer = optimizerFor(params);
    state = { task: task.name, step: 0, settings, heldoutAccuracy: 0, trainSeconds: 0, parameters: params.count, losses: [], evals: [] };
  }
  params.upload();

  const schedule = { peak: settings.learningRate, warmupSteps: settings.warmupSteps, totalSteps: settings.steps };
  const end = Math.min(settings.steps, options.stopAt ?? settings.steps);
  try {
    while (state.step < end) {
      const step = state.step;
      const started = performance.now();
      const batch = batchAt(data.train, settings.batchSize, step, settings.seed);
      const { loss, grads } = await lossAndGradients(model, params, batch);
      if (!Number.isFinite(loss)) throw new ComputationError(`${task.name}: the loss is ${loss} at step ${step}`);
      const gradNorm = clipGlobalNorm(grads, settings.clipNorm);
      const lr = learningRate(step, schedule);
      optimizer.step(params.values, grads, lr);
      params.upload();
      state.step = step + 1;
      state.trainSeconds += (performance.now() - started) / 1000;
      state.losses.push({ step, loss, lr, gradNorm });
      options.events?.step?.(state.step, settings.steps, loss, lr);
      if (state.step % settings.evalEvery === 0 || state.step === end) {
        state.heldoutAccuracy = await accuracy(model, data.heldout);
        state.evals.push({ step: state.step, accuracy: state.heldoutAccuracy });
        await saveCheckpoint(options.out, task, params, optimizer.state, state, data.heldout);
        options.events?.eval?.(state.step, state.heldoutAccuracy);
        if (state.heldoutAccuracy >= settings.stopAccuracy) break;
      }
    }
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { state, model };
}
