/**
 * The memory soak shared by `scripts/bench-soak.ts` (10,000 explanations) and its short version in
 * `tests/gc/soak.test.ts`: a tiny GPT-2 with a 50,257-token vocabulary (so the logits, their
 * readback and the LM head are as wide as GPT-2's) is written with the project's safetensors
 * writer and random generator, loaded, and explained over and over with rotating methods,
 * lengths and targets, sampling process and pool memory along the way.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomNormal } from '../autograd/ops/random.js';
import { runtime } from '../kernels/runtime.js';
import { explain } from '../lrp/explain.js';
import { METHOD_NAMES } from '../lrp/methods.js';
import type { TransformerModel } from '../nn/models/types.js';
import { serializeSafetensors, type TensorToWrite } from '../nn/safetensorsWriter.js';

export const SOAK_VOCAB = 50257;
const HIDDEN = 32;
const LAYERS = 2;
const HEADS = 4;
const POSITIONS = 64;

/** Seeded N(0, std) values from the engine's own generator (Philox on the GPU). */
async function normal(shape: number[], seed: number, std: number): Promise<Float32Array> {
  const t = randomNormal(shape, seed, 0, std);
  const data = (await t.toArray()) as Float32Array;
  t.dispose();
  return data;
}

/** Writes config.json and model.safetensors of the soak model into `dir` (the runtime must be up). */
export async function writeSoakModel(dir: string, seed = 1): Promise<void> {
  const D = HIDDEN;
  const tensors: TensorToWrite[] = [];
  let stream = seed * 1000;
  const add = async (name: string, shape: number[], std: number, mean = 0): Promise<void> => {
    const data = std === 0 ? new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(mean) : await normal(shape, stream++, std);
    tensors.push({ name, shape, data });
  };
  await add('transformer.wte.weight', [SOAK_VOCAB, D], 0.5);
  await add('transformer.wpe.weight', [POSITIONS, D], 0.5);
  for (let i = 0; i < LAYERS; i++) {
    const p = `transformer.h.${i}`;
    await add(`${p}.ln_1.weight`, [D], 0, 1);
    await add(`${p}.ln_1.bias`, [D], 0.1);
    await add(`${p}.attn.c_attn.weight`, [D, 3 * D], 0.2);
    await add(`${p}.attn.c_attn.bias`, [3 * D], 0.1);
    await add(`${p}.attn.c_proj.weight`, [D, D], 0.2);
    await add(`${p}.attn.c_proj.bias`, [D], 0.1);
    await add(`${p}.ln_2.weight`, [D], 0, 1);
    await add(`${p}.ln_2.bias`, [D], 0.1);
    await add(`${p}.mlp.c_fc.weight`, [D, 4 * D], 0.2);
    await add(`${p}.mlp.c_fc.bias`, [4 * D], 0.1);
    await add(`${p}.mlp.c_proj.weight`, [4 * D, D], 0.1);
    await add(`${p}.mlp.c_proj.bias`, [D], 0.1);
  }
  await add('transformer.ln_f.weight', [D], 0, 1);
  await add('transformer.ln_f.bias', [D], 0.1);
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(tensors));
  const config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: SOAK_VOCAB,
    n_positions: POSITIONS,
    n_ctx: POSITIONS,
    n_embd: D,
    n_layer: LAYERS,
    n_head: HEADS,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
}

export interface SoakSample {
  /** Explanations completed. */
  done: number;
  rssBytes: number;
  heapUsedBytes: number;
  poolLiveBytes: number;
  poolIdleBytes: number;
  poolCreated: number;
  poolDestroyed: number;
  textureLiveBytes: number;
  textureIdleBytes: number;
}

export function sampleMemory(done: number): SoakSample {
  const rt = runtime();
  const pool = rt.memory();
  const textures = rt.textures.snapshot();
  const mem = process.memoryUsage();
  return {
    done,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    poolLiveBytes: pool.liveBytes,
    poolIdleBytes: pool.idleBytes,
    poolCreated: pool.created,
    poolDestroyed: pool.destroyed,
    textureLiveBytes: textures.liveBytes,
    textureIdleBytes: textures.idleBytes,
  };
}

/** Explanation `i` of the soak: methods, lengths (2..17 tokens) and targets rotate. */
export function soakCall(i: number): { ids: number[]; method: (typeof METHOD_NAMES)[number]; target?: number } {
  const T = 2 + (i % 16);
  const ids = Array.from({ length: T }, (_, k) => (i * 7919 + k * 104729) % SOAK_VOCAB);
  return { ids, method: METHOD_NAMES[i % METHOD_NAMES.length]!, ...(i % 3 === 0 ? { target: (i * 31) % SOAK_VOCAB } : {}) };
}

/**
 * Runs explanations `from` … `to − 1` and calls `sample` every `every` explanations (after a GC
 * when the process exposes one, so RSS reflects what is really held).
 */
export async function soak(model: TransformerModel, from: number, to: number, every: number, sample: (s: SoakSample) => void): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = from; i < to; i++) {
    const call = soakCall(i);
    const e = await explain(model, { ids: [call.ids] }, { method: call.method, ...(call.target === undefined ? {} : { target: call.target }) });
    if (!Number.isFinite(e.logit)) throw new Error(`soak: explanation ${i} gave a non-finite logit`);
    if ((i + 1) % every === 0) {
      await runtime().sync();
      gc?.();
      sample(sampleMemory(i + 1));
    }
  }
}
