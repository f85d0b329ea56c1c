/**
 * The conservation ledger closes: for every method and every PE/model family fixture, the
 * independently measured terms (Σ tokens, Σ positions, biases, ε stabilisers, each softmax's loss,
 * constant positional tensors, other ops) add up to the explained logit up to float32 rounding.
 * And the terms mean what they say: AttnLRP's constant PE absorbs exactly what PA-LRP gives the
 * positional inputs; CP-LRP loses nothing at any softmax.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../lrp/explain.js';
import type { ConservationLedger, Explanation, MethodName } from '../lrp/result.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { runtime } from '../kernels/runtime.js';
import { gpu } from './helpers/gpu.js';
import { modelDir, referenceInput } from './helpers/fixtures.js';

const FAMILIES = ['gpt2', 'gpt2-sinusoidal', 'llama', 'qwen2', 'bert', 'vit', 'bloom', 'mistral', 'qwen3', 'llama3'] as const;
const METHODS: readonly MethodName[] = ['gi', 'cp-lrp', 'attnlrp', 'pa-lrp'];

/**
 * The stated tolerance: |remainder| ≤ 1e-5 · (|output| + Σ |terms|). Each term is a float32 sum
 * over every element of a tensor, and the loss terms are differences of such sums, so rounding
 * scales with the magnitudes moved, not with the (possibly small) output.
 */
const LEDGER_TOLERANCE = 1e-5;

const models = new Map<string, TransformerModel>();

beforeAll(async () => {
  await gpu();
  for (const name of FAMILIES) models.set(name, await loadModel(modelDir(name)));
});

afterAll(() => {
  for (const m of models.values()) m.dispose();
});

const run = (name: string, method: MethodName): Promise<Explanation> => explain(models.get(name)!, referenceInput(name), { method });

const softmaxTotal = (l: ConservationLedger): number => l.softmax.reduce((s, x) => s + x.lost, 0);
const terms = (l: ConservationLedger): number[] => [l.tokens, l.positions, l.biases, l.stabilizers, softmaxTotal(l), l.constantPositional, l.otherOps];

describe('the ledger sums to the output', () => {
  for (const name of FAMILIES) {
    it(`${name}: every method`, async () => {
      for (const method of METHODS) {
        const e = await run(name, method);
        const c = e.conservation;
        const l = c.ledger;
        const scale = Math.abs(c.output) + terms(l).reduce((s, v) => s + Math.abs(v), 0);
        const message = `${method}: ${JSON.stringify(l)}`;
        expect(Math.abs(l.remainder), message).toBeLessThanOrEqual(LEDGER_TOLERANCE * scale);
        // The sum itself, recomputed here: the remainder is what the measured terms leave.
        expect(terms(l).reduce((s, v) => s + v, 0) + l.remainder).toBeCloseTo(c.output, 9);
        expect(l.unexplained).toBeCloseTo(terms(l).slice(3).reduce((s, v) => s + v, 0), 9);
        expect(l.tokens + l.positions).toBeCloseTo(c.input, 9);
        expect(l.biases).toBe(c.bias);
        expect(c.relativeError).toBeCloseTo(Math.abs(l.remainder) / Math.abs(c.output), 12);
        // Positional inputs and constant positional tensors exclude each other.
        if (method === 'attnlrp') expect(l.positions).toBe(0);
        else expect(l.constantPositional).toBe(0);
        if (method === 'cp-lrp') expect(l.softmax).toEqual([]);
        else expect(l.softmax.map((s) => s.name)).toEqual(e.layers.filter((x) => x.name.endsWith('.softmax')).map((x) => x.name));
      }
    });
  }
});

describe('the terms mean what they say', () => {
  for (const name of ['gpt2', 'gpt2-sinusoidal', 'bert', 'vit', 'bloom']) {
    it(`${name}: AttnLRP's constant positional share is what PA-LRP gives the positional inputs`, async () => {
      const attn = (await run(name, 'attnlrp')).conservation.ledger;
      const pa = (await run(name, 'pa-lrp')).conservation.ledger;
      expect(Math.abs(pa.positions)).toBeGreaterThan(1e-4);
      expect(attn.constantPositional).toBeCloseTo(pa.positions, 5);
      // Making the tables inputs changes nothing else on additive PE and ALiBi.
      expect(attn.tokens).toBeCloseTo(pa.tokens, 5);
      expect(attn.biases).toBeCloseTo(pa.biases, 5);
      expect(softmaxTotal(attn)).toBeCloseTo(softmaxTotal(pa), 5);
    });
  }

  it('rotary tables held constant absorb nothing (q̃ is linear in q)', async () => {
    const attn = (await run('llama', 'attnlrp')).conservation.ledger;
    expect(Math.abs(attn.constantPositional)).toBeLessThan(1e-5);
  });

  it('per-layer softmax losses agree with the layer report (in − out at each softmax)', async () => {
    const e = await run('gpt2', 'attnlrp');
    for (const s of e.conservation.ledger.softmax) {
      const layer = e.layers.find((l) => l.name === s.name)!;
      expect(s.lost).toBeCloseTo(layer.in - layer.out, 5);
    }
    expect(e.conservation.ledger.softmax.some((s) => Math.abs(s.lost) > 1e-3)).toBe(true);
  });

  it('the ε stabiliser share grows with ε and vanishes with it', async () => {
    const model = models.get('llama')!;
    const small = await explain(model, referenceInput('llama'), { method: 'attnlrp', epsilon: 0 });
    const large = await explain(model, referenceInput('llama'), { method: 'attnlrp', epsilon: 1 });
    expect(Math.abs(small.conservation.ledger.stabilizers)).toBeLessThan(1e-5);
    expect(Math.abs(large.conservation.ledger.stabilizers)).toBeGreaterThan(1e-3);
    expect(Math.abs(large.conservation.ledger.remainder)).toBeLessThan(1e-4);
  });

  it('the bookkeeping leaves no GPU memory behind', async () => {
    const before = runtime().memory().liveBytes;
    await run('qwen2', 'pa-lrp');
    expect(runtime().memory().liveBytes).toBe(before);
  });
});
