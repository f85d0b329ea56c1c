/**
 * Generation attribution (issue 14): explainGeneration() explains every greedily generated token
 * from one forward and one backward per token. Checked against independent computations: each
 * step equals a separate explain() of the same prefix with the generated token as target (causal
 * masking makes the two the same computation up to f32 rounding), the generated ids equal greedy
 * decoding by repeated full forwards, and every step's ledger closes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../autograd/graph.js';
import { runtime } from '../kernels/runtime.js';
import { tidy } from '../autograd/scope.js';
import type { BackwardRule } from '../autograd/graph.js';
import { explain, type ExplainInput } from '../lrp/explain.js';
import { methodSpec } from '../lrp/methods.js';
import { explainGeneration } from '../lrp/generate.js';
import type { Explanation, MethodName } from '../lrp/result.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { expectClose } from './helpers/close.js';
import { modelDir, readReference } from './helpers/fixtures.js';
import { gpu } from './helpers/gpu.js';

const models = new Map<string, TransformerModel>();
const FAMILIES = ['gpt2', 'llama', 'bloom', 'mistral', 'bert'];

beforeAll(async () => {
  await gpu();
  for (const name of FAMILIES) models.set(name, await loadModel(modelDir(name)));
});

afterAll(() => {
  for (const m of models.values()) m.dispose();
});

/** The fixture's input, cut to a short prompt. */
const promptOf = (name: string, length: number): number[] => readReference(name).input_ids![0]!.slice(0, length);

/** Every number an explanation reports per position or per layer, in a fixed order. */
function numbersOf(e: Explanation): number[] {
  const d = e.details!;
  return [
    ...e.tokens.flatMap((t) => [t.token, t.position]),
    ...d.positionAbs,
    ...d.positionalTensors.flatMap((p) => p.relevance),
    ...(d.positionalDistances ?? []).flatMap((p) => p.relevance),
    ...e.layers.flatMap((l) => [l.in, l.out]),
    e.conservation.bias,
    e.conservation.ledger.stabilizers,
    e.conservation.ledger.constantPositional,
    e.conservation.ledger.otherOps,
    ...e.conservation.ledger.softmax.map((s) => s.lost),
  ];
}

/** Greedy decoding the slow way: a full forward of the whole sequence per token, argmax of its last row. */
async function greedyByFullForwards(model: TransformerModel, prompt: number[], count: number): Promise<number[]> {
  const sequence = [...prompt];
  for (let k = 0; k < count; k++) {
    const logits = noGrad(() => tidy(() => model.forward({ ids: [sequence] })));
    const values = await logits.toArray();
    logits.dispose();
    const V = model.info.vocabSize;
    const last = values.subarray((sequence.length - 1) * V, sequence.length * V);
    sequence.push(last.indexOf(Math.max(...last)));
  }
  return sequence.slice(prompt.length);
}

describe('explainGeneration: each step equals a separate explain() of its prefix', () => {
  for (const [name, method, promptLength, count] of [
    ['gpt2', 'pa-lrp', 4, 4],
    ['gpt2', 'gi', 3, 3],
    ['llama', 'attnlrp', 4, 4],
    ['bloom', 'pa-lrp', 4, 3],
    ['mistral', 'cp-lrp', 5, 4],
  ] as [string, MethodName, number, number][]) {
    it(`${name} ${method}: ${count} tokens after ${promptLength}`, async () => {
      const model = models.get(name)!;
      const prompt = promptOf(name, promptLength);
      const g = await explainGeneration(model, { ids: [prompt] }, { method, maxNewTokens: count });

      expect(g.method).toBe(method);
      expect(g.prompt.map((t) => t.id)).toEqual(prompt);
      expect(g.generated.map((t) => t.id)).toEqual(await greedyByFullForwards(model, prompt, count));
      expect(g.generated.map((t) => t.index)).toEqual(Array.from({ length: count }, (_, k) => promptLength + k));
      expect(g.steps).toHaveLength(count);

      const sequence = [...prompt, ...g.generated.map((t) => t.id)];
      for (let k = 0; k < count; k++) {
        const step = g.steps[k]!;
        const prefix = sequence.slice(0, promptLength + k);
        const alone = await explain(model, { ids: [prefix] }, { method, target: sequence[promptLength + k]! });
        expect(step.target).toBe(g.generated[k]!.id);
        expect(step.tokens.map((t) => t.id)).toEqual(prefix);
        expect(step.logit).toBeCloseTo(alone.logit, 4);
        const scale = Math.max(...numbersOf(alone).map(Math.abs), Math.abs(alone.logit));
        expectClose(numbersOf(step), numbersOf(alone), { rtol: 1e-4, atol: 2e-5 * scale }, `step ${k}`);
        expect(step.details!.rules).toEqual(alone.details!.rules);

        // Conservation per step: the ledger closes on the step's own logit.
        const c = step.conservation;
        expect(c.output).toBeCloseTo(step.logit, 5);
        const l = c.ledger;
        expect(l.tokens + l.positions + l.biases + l.unexplained + l.remainder).toBeCloseTo(c.output, 5);
        expect(c.relativeError).toBeLessThan(1e-3);
      }
      // The relevance differs from step to step (a test that could not tell steps apart proves nothing).
      expect(g.steps[1]!.tokens[0]!.total).not.toBeCloseTo(g.steps[0]!.tokens[0]!.total, 6);
    });
  }

  it('a text prompt: prompt tokens keep their characters, generated ones have none', async () => {
    const model = models.get('gpt2')!;
    const text = readReference('gpt2').text ?? 'hello world';
    const g = await explainGeneration(model, { text }, { method: 'cp-lrp', maxNewTokens: 2 });
    const encoded = model.tokenizer!.encode(text);
    expect(g.prompt.map((t) => t.id)).toEqual(encoded.ids);
    const last = g.steps[1]!;
    expect(last.tokens).toHaveLength(encoded.ids.length + 1);
    const withSpan = g.prompt.find((t) => t.start !== undefined)!;
    expect(text.slice(withSpan.start, withSpan.end)).not.toBe('');
    expect(last.tokens[withSpan.index]!.start).toBe(withSpan.start);
    expect(last.tokens[encoded.ids.length]!.start).toBeUndefined();
    expect(g.generated[0]!.start).toBeUndefined();
    expect(g.generated[1]!.text).toBe(model.tokenizer!.tokenText(g.generated[1]!.id));
  });

  it('one token is a single explain() of the prompt with its argmax', async () => {
    const model = models.get('llama')!;
    const prompt = promptOf('llama', 5);
    const g = await explainGeneration(model, { ids: [prompt] }, { method: 'attnlrp', maxNewTokens: 1 });
    const alone = await explain(model, { ids: [prompt] }, { method: 'attnlrp' });
    expect(g.generated.map((t) => t.id)).toEqual([alone.target]);
    expectClose(numbersOf(g.steps[0]!), numbersOf(alone), { rtol: 1e-4, atol: 1e-5 });
  });
});

describe('forward with logitPositions: the chosen rows of the full logits, one head product each', () => {
  for (const name of ['gpt2', 'llama', 'bloom']) {
    it(name, async () => {
      const model = models.get(name)!;
      const ids = readReference(name).input_ids!;
      const T = ids[0]!.length;
      const V = model.info.vocabSize;
      const positions = [T - 1, 0, 2];
      const rows: number[][] = [];
      const [full, chosen] = noGrad(() =>
        tidy(() => {
          const picked = model.forward({ ids }, { logitPositions: positions, onLogitRow: (i, row) => (rows[i] = [...row.shape]) });
          return [model.forward({ ids }), picked];
        }),
      );
      const all = await full.toArray();
      expect(chosen.shape).toEqual([1, 3, V]);
      expect(rows).toEqual([[1, V], [1, V], [1, V]]);
      expectClose(await chosen.toArray(), positions.flatMap((p) => Array.from(all.subarray(p * V, (p + 1) * V))), { rtol: 1e-5, atol: 1e-5 });
      full.dispose();
      chosen.dispose();
      expect(() => noGrad(() => tidy(() => model.forward({ ids }, { logitPositions: [T] })))).toThrow(/logit position \d+ is outside the sequence/);
    });
  }
});

describe('explainGeneration frees what it used', () => {
  it('GPU bytes in use return to where they were, after success and after a step that failed', async () => {
    const model = models.get('llama')!;
    const prompt = promptOf('llama', 4);
    await explainGeneration(model, { ids: [prompt] }, { method: 'pa-lrp', maxNewTokens: 3 }); // warm-up: pools, caches
    const before = runtime().memory().liveBytes;
    await explainGeneration(model, { ids: [prompt] }, { method: 'pa-lrp', maxNewTokens: 3 });
    expect(runtime().memory().liveBytes).toBe(before);
    // A rule that fails in the second backward: the graph kept for later steps is released all the same.
    let calls = 0;
    const failing: BackwardRule = {
      name: 'fails-later',
      backward: (ctx, g) => {
        // 11 linear nodes per backward here (the fixture's 2 layers and the head): the 15th is in the second.
        if (++calls === 15) throw new Error('rule failed on purpose');
        return ctx.defaultBackward(g);
      },
    };
    calls = 0;
    await expect(explainGeneration(model, { ids: [prompt] }, { method: { ...methodSpec('cp-lrp'), name: 'failing', ops: { linear: failing } }, maxNewTokens: 3 })).rejects.toThrow(
      /rule failed on purpose/,
    );
    expect(calls).toBe(15);
    expect(runtime().memory().liveBytes).toBe(before);
  });
});

describe('explainGeneration refuses what cannot generate', () => {
  it('a classifier', async () => {
    await expect(explainGeneration(models.get('bert')!, { ids: [[1, 2, 3]] }, { method: 'gi', maxNewTokens: 2 })).rejects.toThrow(
      /BertForSequenceClassification is a classifier, not a causal language model/,
    );
  });

  it('a bad token count, an empty or batched prompt, a sequence beyond the positions', async () => {
    const model = models.get('gpt2')!;
    for (const n of [0, -1, 1.5, Number.NaN]) {
      await expect(explainGeneration(model, { ids: [[1, 2]] }, { method: 'gi', maxNewTokens: n })).rejects.toThrow(/maxNewTokens must be an integer >= 1/);
    }
    await expect(explainGeneration(model, { ids: [[]] }, { method: 'gi', maxNewTokens: 1 })).rejects.toThrow(/prompt is empty/);
    await expect(explainGeneration(model, { ids: [[1, 2]] }, { method: 'gi', maxNewTokens: 1, epsilon: -1 })).rejects.toThrow(/epsilon must be a finite number >= 0/);
    await expect(explainGeneration(model, { ids: [[1, 2]] }, { method: 'lrp' as MethodName, maxNewTokens: 1 })).rejects.toThrow(/unknown method "lrp"/);
    await expect(explainGeneration(model, { text: 'a', ids: [[1]] } as ExplainInput, { method: 'gi', maxNewTokens: 1 })).rejects.toThrow(/give text or ids, not both/);
    await expect(explainGeneration(model, { ids: [[1], [2]] }, { method: 'gi', maxNewTokens: 1 })).rejects.toThrow(/a batch of 2/);
    await expect(explainGeneration(model, { ids: [[1, 96]] }, { method: 'gi', maxNewTokens: 1 })).rejects.toThrow(/outside the vocabulary/);
    // gpt2 fixture: 32 positions; 30 + 4 − 1 = 33.
    await expect(explainGeneration(model, { ids: [new Array<number>(30).fill(1)] }, { method: 'gi', maxNewTokens: 4 })).rejects.toThrow(
      /need 33 positions, more than max_position_embeddings \(32\)/,
    );
  });
});
