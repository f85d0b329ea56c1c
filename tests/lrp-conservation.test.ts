/**
 * Conservation, numerically, on the tiny fixture models of each PE family: CP-LRP's rules are all
 * conservative, so inputs + biases reproduce the logit; dropping positional relevance breaks it by
 * exactly the positional share; on RoPE, PA-LRP moves relevance from tokens onto positions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unexplainedFraction } from '../lrp/conservation.js';
import { explain } from '../lrp/explain.js';
import type { Explanation, MethodName } from '../lrp/result.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { runtime } from '../kernels/runtime.js';
import { gpu } from './helpers/gpu.js';
import { modelDir, referenceInput } from './helpers/fixtures.js';

const models = new Map<string, TransformerModel>();

beforeAll(async () => {
  await gpu();
  for (const name of ['llama', 'qwen2', 'gpt2', 'gpt2-nobias', 'gpt2-sinusoidal', 'bert', 'bert-nobias', 'vit', 'bloom']) models.set(name, await loadModel(modelDir(name)));
});

afterAll(() => {
  for (const m of models.values()) m.dispose();
});

const run = (name: string, method: MethodName, extra: Partial<Parameters<typeof explain>[2]> = {}): Promise<Explanation> =>
  explain(models.get(name)!, referenceInput(name), { method, ...extra });

const sumOf = (values: number[]): number => values.reduce((a, b) => a + b, 0);
const positionTotal = (e: Explanation): number => sumOf(e.details!.positionSigned);
const tokenTotal = (e: Explanation): number => sumOf(e.tokens.map((t) => t.token));

/** The stated tolerance: f32 end to end on 2-layer models. */
const CONSERVATION_TOLERANCE = 1e-4;

describe('CP-LRP is conservative on every PE family', () => {
  for (const [name, family] of [
    ['llama', 'rotary, bias-free'],
    ['gpt2-nobias', 'learned absolute, bias-free'],
    ['bert-nobias', 'learned absolute, post-LN classifier, bias-free'],
    ['gpt2-sinusoidal', 'sinusoidal absolute, with biases'],
    ['qwen2', 'rotary, q/k/v biases'],
    ['gpt2', 'learned absolute, with biases'],
    ['vit', 'learned absolute over patches, with biases'],
    ['bloom', 'ALiBi, with biases'],
  ] as const) {
    it(`${name} (${family}): Σ token + Σ position + bias = logit`, async () => {
      const e = await run(name, 'cp-lrp');
      const c = e.conservation;
      expect(c.output).toBe(e.logit);
      // relativeError is now the ledger's remainder; "conserves" is that nothing but rounding
      // fails to reach an input or a bias.
      expect(unexplainedFraction(c)).toBeLessThan(CONSERVATION_TOLERANCE);
      expect(c.relativeError).toBeLessThan(CONSERVATION_TOLERANCE);
      if (name.includes('nobias') || name === 'llama') {
        expect(Math.abs(c.bias)).toBeLessThan(1e-6);
        expect(Math.abs(c.input - c.output) / Math.abs(c.output)).toBeLessThan(CONSERVATION_TOLERANCE);
      }
    });
  }
});

describe('positional relevance is part of conservation (the PA-LRP point)', () => {
  it('learned PE: treating P as a constant loses exactly the positional share', async () => {
    const full = await run('gpt2-nobias', 'cp-lrp');
    const dropped = await run('gpt2-nobias', 'cp-lrp', { positionalInputs: false });
    expect(Math.abs(positionTotal(full))).toBeGreaterThan(1e-3 * Math.abs(full.logit));
    expect(positionTotal(dropped)).toBe(0);
    const lost = dropped.logit - dropped.conservation.input;
    expect(lost).toBeCloseTo(positionTotal(full), 4);
    expect(tokenTotal(dropped)).toBeCloseTo(tokenTotal(full), 4);
  });

  it('RoPE: PA-LRP gives positions relevance that AttnLRP gives to tokens', async () => {
    const attn = await run('llama', 'attnlrp');
    const pa = await run('llama', 'pa-lrp');
    expect(attn.details!.positionalTensors.every((t) => t.relevance.every((v) => v === 0))).toBe(true);
    // Every layer's cos and sin receive relevance under PA-LRP.
    const names = pa.details!.positionalTensors.map((t) => t.name);
    expect(names).toEqual(['layers.0.rotary.cos', 'layers.0.rotary.sin', 'layers.1.rotary.cos', 'layers.1.rotary.sin']);
    expect(Math.abs(positionTotal(pa))).toBeGreaterThan(1e-4 * Math.abs(pa.logit));
    expect(tokenTotal(pa)).not.toBeCloseTo(tokenTotal(attn), 3);
    // Both are non-conservative only through the softmax rule: the per-layer report shows each
    // softmax's gain or loss, and the rotary split itself conserves (totals stay close).
    for (const e of [attn, pa]) {
      const softmaxes = e.layers.filter((l) => l.name.endsWith('.softmax'));
      expect(softmaxes).toHaveLength(2);
      expect(softmaxes.some((l) => Math.abs(l.in - l.out) > 1e-6)).toBe(true);
    }
    const softmaxLeak = sumOf(attn.layers.filter((l) => l.name.endsWith('.softmax')).map((l) => Math.abs(l.in - l.out)));
    const totalGap = Math.abs(pa.conservation.input - attn.conservation.input);
    expect(totalGap).toBeLessThanOrEqual(softmaxLeak + 1e-4);
  });

  it('ALiBi: PA-LRP gives the bias exactly the share AttnLRP absorbs, per key and per distance', async () => {
    const attn = await run('bloom', 'attnlrp');
    const pa = await run('bloom', 'pa-lrp');
    const names = pa.details!.positionalTensors.map((t) => t.name);
    expect(names).toEqual(['layers.0.alibi', 'layers.1.alibi']);
    expect(attn.details!.positionalTensors.every((t) => t.relevance.every((v) => v === 0))).toBe(true);
    // The bias is added to the logits (proportional split): making it an input changes no other
    // gradient, so the tokens keep their relevance and the bias takes what AttnLRP absorbed.
    expect(tokenTotal(pa)).toBeCloseTo(tokenTotal(attn), 5);
    expect(Math.abs(positionTotal(pa))).toBeGreaterThan(1e-3 * Math.abs(pa.logit));
    expect(pa.conservation.bias).toBeCloseTo(attn.conservation.bias, 6);
    // What AttnLRP leaves unexplained shrinks by exactly the positional share.
    const unexplained = (e: Explanation): number => e.logit - e.conservation.input - e.conservation.bias;
    expect(unexplained(attn) - unexplained(pa)).toBeCloseTo(positionTotal(pa), 5);
    // Per key position and per distance are two partitions of the same relevance; a query's own
    // key (distance 0) has bias 0 and so no relevance.
    const distances = pa.details!.positionalDistances!;
    expect(distances.map((t) => t.name)).toEqual(names);
    for (const [i, t] of distances.entries()) {
      expect(t.relevance[0]).toBe(0);
      expect(sumOf(t.relevance)).toBeCloseTo(sumOf(pa.details!.positionalTensors[i]!.relevance), 6);
    }
    // The first key is at distance > 0 from every later query: it carries relevance.
    expect(pa.details!.positionalTensors.some((t) => Math.abs(t.relevance[0]!) > 1e-6)).toBe(true);
    const rules = Object.fromEntries(pa.details!.rules.map((r) => [`${r.op}/${r.rule}`, r.nodes]));
    expect(rules['positionBias/proportional']).toBe(2);
  });

  it('ALiBi under CP-LRP: an input, but the detached softmax cuts it off', async () => {
    const cp = await run('bloom', 'cp-lrp');
    expect(cp.details!.positionalTensors).toHaveLength(2);
    expect(cp.details!.positionalTensors.every((t) => t.relevance.every((v) => v === 0))).toBe(true);
  });

  it('the |·| aggregation sums per-tensor absolute position relevance', async () => {
    const pa = await run('llama', 'pa-lrp', { positionAggregation: 'abs' });
    const T = pa.tokens.length;
    for (let i = 0; i < T; i++) {
      const expected = sumOf(pa.details!.positionalTensors.map((t) => Math.abs(t.relevance[i]!)));
      expect(pa.tokens[i]!.position).toBeCloseTo(expected, 6);
      expect(pa.tokens[i]!.total).toBeCloseTo(pa.tokens[i]!.token + expected, 6);
    }
  });
});

describe('the report names the rules that replaced gradients', () => {
  it('CP-LRP on LLaMA: attention detached in both layers, norms and gates too', async () => {
    const e = await run('llama', 'cp-lrp');
    const rules = Object.fromEntries(e.details!.rules.map((r) => [`${r.op}/${r.rule}`, r.nodes]));
    expect(rules['softmax/attention-detached']).toBe(2);
    expect(rules['gatedProduct/gate-detached']).toBe(2);
    expect(rules['rmsNorm/norm-scale-detached']).toBe(5);
    const gi = await run('llama', 'gi');
    expect(gi.details!.rules).toEqual([]);
  });
});

describe('explain() leaves no GPU memory behind', () => {
  it('after an error between forward and backward (target out of range)', async () => {
    const before = runtime().memory().liveBytes;
    await expect(run('gpt2', 'pa-lrp', { target: 10_000 })).rejects.toThrow(/target 10000 is out of range/);
    expect(runtime().memory().liveBytes).toBe(before);
  });
});

describe('all four methods on every PE family (learned, sinusoidal via gpt2 code, rotary, ALiBi)', () => {
  for (const name of ['llama', 'gpt2', 'bert', 'vit', 'bloom']) {
    for (const method of ['gi', 'cp-lrp', 'attnlrp', 'pa-lrp'] as const) {
      it(`${method} on ${name}`, async () => {
        const before = runtime().memory().liveBytes;
        const e = await run(name, method);
        expect(runtime().memory().liveBytes).toBe(before);
        expect(e.tokens.length).toBeGreaterThan(0);
        for (const t of e.tokens) {
          expect(Number.isFinite(t.token) && Number.isFinite(t.position)).toBe(true);
          expect(t.total).toBeCloseTo(t.token + t.position, 9);
        }
        expect(e.layers.filter((l) => l.name.startsWith('layers.'))).toHaveLength(2);
        expect(Number.isFinite(e.conservation.relativeError)).toBe(true);
      });
    }
  }
});
