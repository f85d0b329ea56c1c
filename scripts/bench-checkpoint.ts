/**
 * The random checkpoints the model benchmarks write: a Hugging Face folder (config.json and
 * model.safetensors) with seeded weights drawn the way HF's `_init_weights` draws them, streamed
 * to disk in 4 MiB chunks with the project's safetensors writer and PRNG. Two plans: GPT-2 small
 * (F32, Conv1D layout, `c_proj` scaled by 1/√(2·layers)) and any published config (the tensors its
 * family declares, F32 or BF16 as the hub stores them).
 */
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigReader, type JsonObject } from '../nn/config.js';
import { buildModel } from '../nn/load.js';
import { float32ToBfloat16, safetensorsHeader, tensorByteLength, type TensorLayout } from '../nn/safetensorsWriter.js';
import { writeSafetensorsStream } from '../nn/safetensorsStream.js';
import { deriveSeed, Rng } from '../nn/train/rng.js';

/** How a tensor's values are drawn: normal with a standard deviation, or one constant. */
export type Init = { normal: number } | { constant: number };

/** One tensor of a random checkpoint: its layout as stored and how its values are drawn. */
export interface TensorPlan extends TensorLayout {
  init: Init;
}

/** A checkpoint to write: its config.json and tensors, and the seed of every draw. */
export interface CheckpointPlan {
  config: JsonObject;
  tensors: TensorPlan[];
  seed: number;
  /** Recorded in the file's metadata (the script that wrote it). */
  generator: string;
}

/** GPT-2 small's dimensions. */
export const GPT2 = { vocab: 50257, hidden: 768, heads: 12, positions: 1024, initStd: 0.02 } as const;

/** GPT-2 small's config.json with `layers` blocks. */
export function gpt2Config(layers: number): JsonObject {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: GPT2.vocab,
    n_positions: GPT2.positions,
    n_ctx: GPT2.positions,
    n_embd: GPT2.hidden,
    n_layer: layers,
    n_head: GPT2.heads,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    initializer_range: GPT2.initStd,
    bos_token_id: 50256,
    eos_token_id: 50256,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
  };
}

/** GPT-2 small's tensors (HF names, Conv1D weights [in, out]), F32, initialised as HF does. */
export function gpt2Tensors(layers: number): TensorPlan[] {
  const D = GPT2.hidden;
  const std = GPT2.initStd;
  const projStd = std / Math.sqrt(2 * layers);
  const t = (name: string, shape: number[], init: Init): TensorPlan => ({ name, shape, dtype: 'F32', init });
  const out: TensorPlan[] = [t('transformer.wte.weight', [GPT2.vocab, D], { normal: std }), t('transformer.wpe.weight', [GPT2.positions, D], { normal: std })];
  for (let i = 0; i < layers; i++) {
    const p = `transformer.h.${i}`;
    out.push(
      t(`${p}.ln_1.weight`, [D], { constant: 1 }),
      t(`${p}.ln_1.bias`, [D], { constant: 0 }),
      t(`${p}.attn.c_attn.weight`, [D, 3 * D], { normal: std }),
      t(`${p}.attn.c_attn.bias`, [3 * D], { constant: 0 }),
      t(`${p}.attn.c_proj.weight`, [D, D], { normal: projStd }),
      t(`${p}.attn.c_proj.bias`, [D], { constant: 0 }),
      t(`${p}.ln_2.weight`, [D], { constant: 1 }),
      t(`${p}.ln_2.bias`, [D], { constant: 0 }),
      t(`${p}.mlp.c_fc.weight`, [D, 4 * D], { normal: std }),
      t(`${p}.mlp.c_fc.bias`, [4 * D], { constant: 0 }),
      t(`${p}.mlp.c_proj.weight`, [4 * D, D], { normal: projStd }),
      t(`${p}.mlp.c_proj.bias`, [D], { constant: 0 }),
    );
  }
  out.push(t('transformer.ln_f.weight', [D], { constant: 1 }), t('transformer.ln_f.bias', [D], { constant: 0 }));
  return out;
}

/** The tensors a config's family declares, as stored: N(0, initializer_range) matrices, unit gains, zero biases. */
export function configTensors(config: JsonObject, dtype: 'F32' | 'BF16'): TensorPlan[] {
  const model = buildModel(new ConfigReader(config, 'config.json'));
  const std = typeof config['initializer_range'] === 'number' ? config['initializer_range'] : 0.02;
  const unique = [...new Map(model.parameters().map((p) => [p.name, p])).values()];
  return unique.map((p) => ({
    name: p.name,
    shape: [...p.spec.shape],
    dtype,
    init: p.name.endsWith('.bias') ? { constant: 0 } : p.spec.shape.length === 1 ? { constant: 1 } : { normal: std },
  }));
}

/** Number of values in a plan's tensors. */
export function parameterCount(tensors: readonly TensorPlan[]): number {
  return tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
}

const CHUNK = 1 << 20;

/**
 * A tensor's values in chunks of at most 1M values, encoded as its dtype. Each tensor draws from
 * its own stream (the seed derived from the tensor's name), so tensors do not depend on each other.
 */
export function* tensorValues(t: TensorPlan, seed: number): Generator<Uint8Array> {
  const rng = new Rng(deriveSeed(seed, t.name));
  const values = new Float32Array(CHUNK);
  const half = new Uint16Array(CHUNK);
  for (let left = t.shape.reduce((a, b) => a * b, 1); left > 0; ) {
    const part = values.subarray(0, Math.min(CHUNK, left));
    if ('normal' in t.init) {
      const std = t.init.normal;
      for (let i = 0; i < part.length; i++) part[i] = std * rng.normal();
    } else part.fill(t.init.constant);
    left -= part.length;
    if (t.dtype === 'F32') yield new Uint8Array(part.buffer, 0, part.byteLength);
    else if (t.dtype === 'BF16') {
      const h = float32ToBfloat16(part, half.subarray(0, part.length));
      yield new Uint8Array(h.buffer, 0, h.byteLength);
    } else throw new Error(`bench checkpoint: cannot draw ${t.dtype} values`);
  }
}

const metadataOf = (plan: CheckpointPlan): Record<string, string> => ({ format: 'pt', generator: plan.generator, seed: String(plan.seed) });
const configText = (config: JsonObject): string => `${JSON.stringify(config, null, 2)}\n`;

/** Writes `plan` into `dir` (model.safetensors, then config.json); returns the weight file's size. */
export async function writeCheckpoint(dir: string, plan: CheckpointPlan): Promise<number> {
  await mkdir(dir, { recursive: true });
  const bytes = await writeSafetensorsStream(join(dir, 'model.safetensors'), plan.tensors, (t) => tensorValues(t as TensorPlan, plan.seed), metadataOf(plan));
  await writeFile(join(dir, 'config.json'), configText(plan.config));
  return bytes;
}

/** True when `dir` already holds the checkpoint `plan` describes (same config, header and size). */
export async function checkpointMatches(dir: string, plan: CheckpointPlan): Promise<boolean> {
  try {
    if ((await readFile(join(dir, 'config.json'), 'utf8')) !== configText(plan.config)) return false;
    const header = safetensorsHeader(plan.tensors, metadataOf(plan));
    const path = join(dir, 'model.safetensors');
    const size = (await stat(path)).size;
    if (size !== header.length + plan.tensors.reduce((n, t) => n + tensorByteLength(t), 0)) return false;
    const file = await open(path, 'r');
    try {
      const got = Buffer.alloc(header.length);
      await file.read(got, 0, header.length, 0);
      return got.equals(header);
    } finally {
      await file.close();
    }
  } catch {
    return false;
  }
}

/** Writes the checkpoint unless `dir` already holds it; returns whether it wrote one. */
export async function ensureCheckpoint(dir: string, plan: CheckpointPlan): Promise<boolean> {
  if (await checkpointMatches(dir, plan)) return false;
  await writeCheckpoint(dir, plan);
  return true;
}

/** `count` seeded token ids below `vocab`. */
export function randomIds(count: number, vocab: number, seed: number): number[] {
  const rng = new Rng(deriveSeed(seed, 'token ids'));
  return Array.from({ length: count }, () => rng.int(vocab));
}
