/**
 * Key/value cache for greedy generation: a forward over new tokens against cached keys and values
 * gives the same logits as the full forward at those positions, for every positional family
 * (rotary with and without rope_scaling, Mistral's sliding window over the cache, learned and
 * sinusoidal absolute positions, ALiBi), checked against the full forward of the same sequence;
 * greedy decoding with and without the cache gives the same ids; the cache frees its memory.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import { runtime } from '../kernels/runtime.js';
import { generateGreedy } from '../lrp/generate.js';
import type { JsonObject } from '../nn/config.js';
import { loadModel } from '../nn/folder.js';
import type { KvCache } from '../nn/layers/kv-cache.js';
import type { ModelInput, TransformerModel } from '../nn/models/types.js';
import { expectClose } from './helpers/close.js';
import { modelDir } from './helpers/fixtures.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';

const FAMILIES = ['llama', 'llama3', 'qwen2', 'qwen3', 'mistral', 'gpt2', 'gpt2-sinusoidal', 'bloom'];
const models = new Map<string, TransformerModel>();

beforeAll(async () => {
  await gpu();
  for (const name of FAMILIES) models.set(name, await loadModel(modelDir(name)));
});

afterAll(() => {
  for (const m of models.values()) m.dispose();
});

/** A fixed sequence of `length` ids inside the vocabulary (12 > Mistral's window of 4). */
const sequenceOf = (model: TransformerModel, length = 12): number[] => Array.from({ length }, (_, i) => (7 * i + 3) % model.info.vocabSize);

async function logitsOf(model: TransformerModel, input: ModelInput, cache?: KvCache): Promise<Float32Array> {
  const logits = noGrad(() => tidy(() => model.forward(input, cache ? { cache } : {})));
  const values = (await logits.toArray()) as Float32Array;
  logits.dispose();
  return values;
}

describe('a cached forward gives the full forward’s logits at its positions', () => {
  for (const name of FAMILIES) {
    it(name, async () => {
      const model = models.get(name)!;
      const ids = sequenceOf(model);
      const V = model.info.vocabSize;
      const before = runtime().memory().liveBytes;
      const full = await logitsOf(model, { ids: [ids] });
      const scale = Math.max(...Array.from(full, Math.abs));
      const rows = (from: number, to: number): Float32Array => full.subarray(from * V, to * V);
      const cache = model.kvCache!(ids.length)!;
      // Prompt of 3, then a chunk of 4 (several queries after cached keys), then one token per step.
      const chunks: [number, number][] = [[0, 3], [3, 7], ...Array.from({ length: ids.length - 7 }, (_, k): [number, number] => [7 + k, 8 + k])];
      for (const [from, to] of chunks) {
        expect(cache.length).toBe(from);
        const got = await logitsOf(model, { ids: [ids.slice(from, to)] }, cache);
        expect(got.length).toBe((to - from) * V);
        expectClose(got, rows(from, to), { rtol: 1e-4, atol: 1e-5 * scale }, `${name} positions ${from}..${to - 1}`);
      }
      expect(cache.length).toBe(ids.length);
      cache.dispose();
      expect(runtime().memory().liveBytes).toBe(before);
    });
  }

  it('the sliding window is applied over the cache (without it the last logits differ)', async () => {
    const model = models.get('mistral')!;
    const ids = sequenceOf(model);
    const V = model.info.vocabSize;
    const full = await logitsOf(model, { ids: [ids] });
    // What full attention over all 11 earlier keys would give: the window must make a difference.
    const dir = tempDir('lrp-kv-mistral-');
    cpSync(modelDir('mistral'), dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as JsonObject;
    config['sliding_window'] = null;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const unwindowed = await loadModel(dir);
    try {
      const wide = await logitsOf(unwindowed, { ids: [ids] });
      const last = (a: Float32Array): number[] => Array.from(a.subarray((ids.length - 1) * V));
      expect(Math.max(...last(full).map((v, i) => Math.abs(v - last(wide)[i]!)))).toBeGreaterThan(1e-2);
    } finally {
      unwindowed.dispose();
    }
  });

  it('refuses padding with a cache', async () => {
    const model = models.get('gpt2')!;
    const cache = model.kvCache!(4)!;
    expect(() => noGrad(() => tidy(() => model.forward({ ids: [[1, 2, 3]], attentionMask: [[0, 1, 1]] }, { cache })))).toThrow(/padding .* not supported with a key\/value cache/);
    cache.dispose();
  });
});

describe('greedy generation with the cache', () => {
  for (const name of FAMILIES) {
    it(`${name}: the same ids as full forwards, and no GPU memory left behind`, async () => {
      const model = models.get(name)!;
      const prompt = sequenceOf(model, 5);
      const reference = await generateGreedy(model, prompt, 7, undefined, { kvCache: false });
      const before = runtime().memory().liveBytes;
      expect(await generateGreedy(model, prompt, 7)).toEqual(reference);
      expect(runtime().memory().liveBytes).toBe(before);
    });
  }

  it('dynamic NTK scaling past its original context falls back to full forwards', async () => {
    const dir = tempDir('lrp-kv-dynamic-');
    cpSync(modelDir('llama'), dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as JsonObject;
    config['max_position_embeddings'] = 8;
    config['rope_scaling'] = { rope_type: 'dynamic', factor: 4 };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const model = await loadModel(dir);
    try {
      expect(model.kvCache!(8)).not.toBeNull();
      model.kvCache!(8)!.dispose();
      expect(model.kvCache!(9)).toBeNull();
      const prompt = sequenceOf(model, 5);
      // 5 + 6 − 1 = 10 positions > 8: the frequencies change with the length, so no cache.
      expect(await generateGreedy(model, prompt, 6)).toEqual(await generateGreedy(model, prompt, 6, undefined, { kvCache: false }));
      const cache = model.kvCache!(8)!;
      const ids = sequenceOf(model, 8);
      await logitsOf(model, { ids: [ids.slice(0, 4)] }, cache);
      await logitsOf(model, { ids: [ids.slice(4, 8)] }, cache);
      await expect(logitsOf(model, { ids: [[1]] }, cache)).rejects.toThrow(/dynamic rope scaling beyond its original context cannot use a key\/value cache/);
      cache.dispose();
    } finally {
      model.dispose();
    }
  });
});
