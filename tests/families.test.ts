/**
 * The newer families against PyTorch (float64 forwards in scripts/fixtures/hf_llama_variants.py):
 * Llama 3.x (llama3 rope scaling, tied embeddings, BF16), Qwen3 (explicit head_dim, q/k norms,
 * YaRN with its attention factor), Mistral (sliding window shorter than the sequence). Logits, and
 * the gradient × input of the explained logit at the token embeddings and every rotary table.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import { runtime } from '../kernels/runtime.js';
import { explain } from '../lrp/explain.js';
import { Tensor } from '../autograd/tensor.js';
import { ConfigReader, type JsonObject } from '../nn/config.js';
import { Linear } from '../nn/layers/linear.js';
import { loadModel } from '../nn/folder.js';
import { ropeFrequencies, readRopeScaling } from '../nn/positional/rope-scaling.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { FIXTURES, flatten, modelDir, readReference } from './helpers/fixtures.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';

beforeAll(async () => {
  await gpu();
});

interface GradientInput {
  target: number;
  token: number[];
  positions: Record<string, number[]>;
  /** BLOOM: ALiBi relevance per distance i − j. */
  distances?: Record<string, number[]>;
}

const gradientInputOf = (name: string): GradientInput =>
  (JSON.parse(readFileSync(join(modelDir(name), 'reference.json'), 'utf8')) as { gradient_input: GradientInput }).gradient_input;

// Logits: float64 PyTorch against f32 on the GPU, as in models.test.ts.
const LOGITS = { rtol: 1e-4, atol: 1e-4 };
// Gradient × input goes through the backward too; atol covers the entries that cancel to ~0.
const RELEVANCE = { rtol: 1e-4, atol: 2e-5 };

describe('new LLaMA-family checkpoints reproduce PyTorch', () => {
  for (const [name, what] of [
    ['llama3', 'llama3 rope scaling, tied embeddings, BF16'],
    ['qwen3', 'head_dim 16 × 4 heads ≠ hidden 32, q/k RMSNorm, YaRN'],
    ['mistral', 'sliding window 4 on 10 tokens'],
    ['bloom', 'ALiBi with 6 heads, per-head fused q/k/v, tied head'],
  ] as const) {
    it(`${name} (${what}): logits and gradient × input`, async () => {
      const model = await loadModel(modelDir(name));
      try {
        const ref = readReference(name);
        const logits = noGrad(() => tidy(() => model.forward({ ids: ref.input_ids! })));
        expectClose(await logits.toArray(), flatten(ref.logits), LOGITS, `${name} logits`);
        logits.dispose();

        const gi = gradientInputOf(name);
        const e = await explain(model, { ids: ref.input_ids! }, { method: 'gi' });
        expect(e.target).toBe(gi.target);
        expectClose(e.tokens.map((t) => t.token), gi.token, RELEVANCE, `${name} token relevance`);
        const tensors = e.details!.positionalTensors;
        expect(tensors.map((t) => t.name)).toEqual(Object.keys(gi.positions));
        for (const t of tensors) expectClose(t.relevance, gi.positions[t.name]!, RELEVANCE, `${name} ${t.name}`);
        const distances = e.details!.positionalDistances ?? [];
        expect(distances.map((t) => t.name)).toEqual(Object.keys(gi.distances ?? {}));
        for (const t of distances) expectClose(t.relevance, gi.distances![t.name]!, RELEVANCE, `${name} ${t.name} per distance`);
      } finally {
        model.dispose();
      }
    });
  }

  it('the sliding window matters: without it the Mistral logits are far from PyTorch', async () => {
    const dir = tempDir('lrp-mistral-');
    cpSync(modelDir('mistral'), dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as JsonObject;
    config['sliding_window'] = null;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const model = await loadModel(dir);
    try {
      const ref = readReference('mistral');
      const logits = noGrad(() => tidy(() => model.forward({ ids: ref.input_ids! })));
      const got = await logits.toArray();
      logits.dispose();
      const expected = flatten(ref.logits);
      const worst = Math.max(...expected.map((v, i) => Math.abs(v - got[i]!)));
      expect(worst).toBeGreaterThan(0.1);
    } finally {
      model.dispose();
    }
  });

  it('leaves no GPU memory behind after a forward with the window', async () => {
    const model = await loadModel(modelDir('mistral'));
    const before = runtime().memory().liveBytes;
    noGrad(() => tidy(() => model.forward({ ids: readReference('mistral').input_ids! }))).dispose();
    expect(runtime().memory().liveBytes).toBe(before);
    model.dispose();
  });
});

describe('rope_scaling frequencies follow the Hugging Face formulas', () => {
  interface Case {
    name: string;
    config: JsonObject;
    dim: number;
    seq_len: number;
    inv_freq: number[];
    attention_factor: number;
  }
  const cases = (JSON.parse(readFileSync(join(FIXTURES, 'rope_scaling.json'), 'utf8')) as { cases: Case[] }).cases;
  for (const c of cases) {
    it(c.name, () => {
      const r = new ConfigReader(c.config, 'config.json');
      const scaling = readRopeScaling(r, c.config['max_position_embeddings'] as number);
      const f = ropeFrequencies(scaling, c.dim, c.config['rope_theta'] as number, c.seq_len);
      expectClose(f.invFreq, c.inv_freq, { rtol: 1e-8, atol: 0 }, `${c.name} inv_freq`);
      expect(f.attentionScale).toBeCloseTo(c.attention_factor, 10);
    });
  }

  it('the table exercises every branch: llama3 keeps high and divides low frequencies, YaRN scales cos/sin', () => {
    const byName = Object.fromEntries(cases.map((c) => [c.name, c]));
    const llama3 = byName['llama3']!;
    const base = (i: number): number => 1 / 500000 ** ((2 * i) / llama3.dim);
    expect(llama3.inv_freq[0]).toBeCloseTo(base(0), 12);
    const last = llama3.dim / 2 - 1;
    expect(llama3.inv_freq[last]! / base(last)).toBeCloseTo(1 / 32, 8);
    expect(byName['yarn']!.attention_factor).toBeCloseTo(0.1 * Math.log(4) + 1, 10);
    expect(byName['dynamic-long']!.inv_freq).not.toEqual(byName['dynamic-short']!.inv_freq);
  });
});

describe('refused features name themselves', () => {
  const refuse = (raw: JsonObject, message: RegExp): void => {
    expect(() => readRopeScaling(new ConfigReader(raw, 'config.json'), 2048)).toThrow(message);
  };

  it('unknown rope types, and malformed scaling values', () => {
    refuse({ rope_scaling: { rope_type: 'longrope', long_factor: [1], short_factor: [1] } }, /rope_type "longrope" is not supported/);
    refuse({ rope_scaling: { type: 'linear' } }, /rope_scaling\.factor must be a number/);
    refuse({ rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1 } }, /high_freq_factor/);
    refuse({ rope_scaling: 'yes' }, /rope_scaling must be an object/);
  });

  it('Qwen sliding windows (use_sliding_window: true)', async () => {
    const dir = tempDir('lrp-qwen3-');
    cpSync(modelDir('qwen3'), dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as JsonObject;
    config['use_sliding_window'] = true;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    await expect(loadModel(dir)).rejects.toThrow(/use_sliding_window is not supported for qwen3/);
    // Newer configs say it per layer.
    config['use_sliding_window'] = false;
    config['layer_types'] = ['full_attention', 'sliding_attention'];
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    await expect(loadModel(dir)).rejects.toThrow(/use_sliding_window is not supported for qwen3/);
  });
});

describe('weights larger than one binding', () => {
  it('a Linear stored as row blocks (with its bias) computes what the whole matrix computes', async () => {
    const random = rng(7);
    const [inF, outF] = [5, 7];
    const w = randomArray(outF * inF, random);
    const b = randomArray(outF, random);
    const x = Tensor.fromArray(randomArray(2 * 3 * inF, random), [2, 3, inF]);
    const whole = new Linear('whole', inF, outF);
    whole.weight.set(Tensor.fromArray(w, [outF, inF]));
    whole.bias!.set(Tensor.fromArray(b, [outF]));
    const split = new Linear('split', inF, outF);
    // Blocks of 3, 3 and 1 rows, as the loader cuts a matrix at the binding limit.
    split.weight.setShards([0, 3, 6].map((r) => Tensor.fromArray(w.subarray(r * inF, Math.min(r + 3, outF) * inF), [Math.min(3, outF - r), inF])));
    split.bias!.set(Tensor.fromArray(b, [outF]));
    const expected = await whole.forward(x).toArray();
    const got = split.forward(x);
    expect(got.shape).toEqual([2, 3, outF]);
    expectClose(await got.toArray(), expected, { rtol: 1e-6, atol: 1e-6 }, 'row-block linear');
    whole.dispose();
    split.dispose();
  });
});
