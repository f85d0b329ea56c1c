/**
 * Contrastive attribution (issue 14): explain(…, { target, contrast }) explains
 * logit[target] − logit[contrast] in one backward pass. Relevance is linear in the backward seed
 * for GI and CP-LRP (their rules depend on the forward only), so it must equal the difference of
 * the two single-target explanations; conservation holds for the difference.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../lrp/explain.js';
import type { Explanation, MethodName } from '../lrp/result.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { gpu } from './helpers/gpu.js';
import { expectClose } from './helpers/close.js';
import { modelDir, readReference } from './helpers/fixtures.js';

const models = new Map<string, TransformerModel>();

beforeAll(async () => {
  await gpu();
  for (const name of ['gpt2', 'gpt2-nobias', 'bert']) models.set(name, await loadModel(modelDir(name)));
});

afterAll(() => {
  for (const m of models.values()) m.dispose();
});

const ids = (name: string): number[][] => readReference(name).input_ids!;
const sumOf = (values: number[]): number => values.reduce((a, b) => a + b, 0);

/** Per-token and per-position relevance of every position, and the per-PE-tensor detail. */
function relevanceOf(e: Explanation): number[] {
  return [...e.tokens.map((t) => t.token), ...e.details!.positionSigned, ...e.details!.positionalTensors.flatMap((p) => p.relevance)];
}

describe('contrast = difference of the single-target explanations (linear in the seed)', () => {
  for (const [name, method, target, contrast] of [
    ['gpt2', 'gi', 7, 3],
    ['gpt2', 'cp-lrp', 7, 3],
    ['gpt2-nobias', 'cp-lrp', 11, 2],
    ['bert', 'gi', 1, 0],
    ['bert', 'cp-lrp', 0, 1],
  ] as [string, MethodName, number, number][]) {
    it(`${name} ${method}: R(${target} vs ${contrast}) = R(${target}) − R(${contrast})`, async () => {
      const model = models.get(name)!;
      const input = { ids: ids(name) };
      const [both, a, b] = await Promise.all([
        explain(model, input, { method, target, contrast }),
        explain(model, input, { method, target }),
        explain(model, input, { method, target: contrast }),
      ]);
      expect([both.target, both.contrast, both.logit, both.contrastLogit]).toEqual([target, contrast, a.logit, b.logit]);
      const difference = relevanceOf(a).map((v, i) => v - relevanceOf(b)[i]!);
      const scale = Math.max(...relevanceOf(a).map(Math.abs), ...relevanceOf(b).map(Math.abs));
      // f32 backward passes: differences of values of size `scale` agree to f32 rounding of that size.
      expectClose(relevanceOf(both), difference, { rtol: 1e-4, atol: 1e-5 * scale });
      expect(both.conservation.output).toBeCloseTo(a.logit - b.logit, 6);
      expect(both.conservation.bias).toBeCloseTo(a.conservation.bias - b.conservation.bias, 4);
      // The difference is not a trivial one: the two targets' explanations differ.
      expect(Math.max(...difference.map(Math.abs))).toBeGreaterThan(1e-3 * scale);
    });
  }

  it('CP-LRP on the bias-free GPT-2 conserves the explained difference', async () => {
    const e = await explain(models.get('gpt2-nobias')!, { ids: ids('gpt2-nobias') }, { method: 'cp-lrp', target: 11, contrast: 2 });
    const c = e.conservation;
    const input = sumOf(e.tokens.map((t) => t.token)) + sumOf(e.details!.positionSigned);
    expect(c.output).toBeCloseTo(e.logit - e.contrastLogit!, 6);
    expect(Math.abs(c.output)).toBeGreaterThan(1e-2);
    expect(Math.abs(c.bias)).toBeLessThan(1e-6);
    expect(Math.abs(input - c.output) / Math.abs(c.output)).toBeLessThan(1e-4);
    expect(c.relativeError).toBeLessThan(1e-4);
  });

  it('refuses a contrast out of range or equal to the target', async () => {
    const model = models.get('gpt2')!;
    await expect(explain(model, { ids: ids('gpt2') }, { method: 'gi', target: 3, contrast: 500 })).rejects.toThrow(/contrast 500 is out of range/);
    await expect(explain(model, { ids: ids('gpt2') }, { method: 'gi', target: 3, contrast: 3 })).rejects.toThrow(/contrast 3 is the target itself/);
  });
});
