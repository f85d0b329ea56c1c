/**
 * Training checkpoints: a Hugging Face directory (config.json, model.safetensors, tokenizer.json,
 * tokenizer_config.json), the held-out set with its ground truth (heldout.jsonl), the run's record
 * (training_state.json) and, for `--resume`, the optimiser's moments (optimizer.safetensors,
 * float64). Every file is written to a temporary name and renamed, and training_state.json goes
 * last: it names the step the other files belong to, so a crash never leaves a half checkpoint
 * that looks whole.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../kernels/errors.js';
import { writeFileAtomically } from '../files.js';
import { parseSafetensors } from '../safetensors.js';
import { serializeSafetensors } from '../safetensorsWriter.js';
import type { AdamWState } from './adamw.js';
import type { TrainableParameters } from './parameters.js';
import type { Example, Task, TrainingSettings } from './tasks/types.js';
import { textOf } from './tasks/vocab.js';
import { tokenizerConfigJson, tokenizerJson } from './tokenizerJson.js';

/** One step's log line in training_state.json. */
export interface LogEntry {
  /** 0-based step. */
  step: number;
  /** Mean training loss of the batch. */
  loss: number;
  /** Learning rate used. */
  lr: number;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
}

/** One held-out evaluation. */
export interface EvalEntry {
  /** Step after which it was measured. */
  step: number;
  /** Held-out accuracy, 0 to 1. */
  accuracy: number;
}

/** training_state.json. */
export interface TrainingState {
  /** Task name. */
  task: string;
  /** Steps done. */
  step: number;
  /** The settings the run used (overrides applied). */
  settings: TrainingSettings;
  /** Held-out accuracy at `step`. */
  heldoutAccuracy: number;
  /** Seconds of training (forward, backward, update; evaluation excluded) up to `step`. */
  trainSeconds: number;
  /** Trainable parameter count. */
  parameters: number;
  /** Per-step log. */
  losses: LogEntry[];
  /** Evaluations so far. */
  evals: EvalEntry[];
}

/** heldout.jsonl: one JSON object per held-out example (text, ids, label, ground truth). */
export function heldoutLines(task: Task, heldout: readonly Example[]): string {
  return heldout.map((e) => JSON.stringify({ text: textOf(task.vocab, e.ids, task.prependCls), ids: e.ids, label: e.label, groundTruth: e.groundTruth })).join('\n') + '\n';
}

/**
 * Writes a loadable model folder (config, tokenizer, weights, held-out set) plus the optimiser
 * state and training_state.json, each file atomically.
 */
export async function saveCheckpoint(dir: string, task: Task, params: TrainableParameters, optimizer: AdamWState, state: TrainingState, heldout: readonly Example[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const config = { ...task.config, vocab_size: task.vocab.length, task: task.name };
  await writeFileAtomically(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  await writeFileAtomically(join(dir, 'tokenizer.json'), `${JSON.stringify(tokenizerJson(task))}\n`);
  await writeFileAtomically(join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfigJson(), null, 2)}\n`);
  await writeFileAtomically(join(dir, 'heldout.jsonl'), heldoutLines(task, heldout));
  await writeFileAtomically(join(dir, 'model.safetensors'), serializeSafetensors(params.checkpointTensors(), { format: 'pt', step: String(state.step) }));
  const moments = params.params.flatMap((p, k) => [
    { name: `m.${p.name}`, shape: p.spec.shape, data: optimizer.m[k]! },
    { name: `v.${p.name}`, shape: p.spec.shape, data: optimizer.v[k]! },
  ]);
  await writeFileAtomically(join(dir, 'optimizer.safetensors'), serializeSafetensors(moments, { step: String(optimizer.step) }));
  await writeFileAtomically(join(dir, 'training_state.json'), `${JSON.stringify(state, null, 1)}\n`);
}

/** Reads `dir/training_state.json`; throws an InputError when there is none. */
export async function readTrainingState(dir: string): Promise<TrainingState> {
  const path = join(dir, 'training_state.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new InputError(`${path}: no checkpoint to resume from`);
  }
  return JSON.parse(text) as TrainingState;
}

/** The optimiser moments saved beside a checkpoint, checked against the step it belongs to. */
export async function readOptimizerState(dir: string, params: TrainableParameters, step: number): Promise<AdamWState> {
  const path = join(dir, 'optimizer.safetensors');
  const bytes = await readFile(path).catch(() => {
    throw new InputError(`${path}: missing (the optimiser state --resume needs; shipped demo models do not include it)`);
  });
  const file = parseSafetensors(new Uint8Array(bytes), path);
  if (file.metadata?.['step'] !== String(step)) throw new Error(`${path}: belongs to step ${file.metadata?.['step']}, training_state.json to step ${step}`);
  const read = (name: string): Float64Array => {
    const bytes = file.getBytes(name);
    return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  };
  return { step, m: params.params.map((p) => read(`m.${p.name}`)), v: params.params.map((p) => read(`v.${p.name}`)) };
}
