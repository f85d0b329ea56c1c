/**
 * explain() is safe to call concurrently on one model: eight explanations started together
 * (mixed methods, inputs and targets) equal, bit for bit, the same eight run one after another.
 * Biases used to be marked as gradient leaves on the shared parameters, so concurrent calls
 * summed their bias relevance into each other (cp-lrp bias 1.47 → 2.95 on this model).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, type ExplainOptions } from '../lrp/explain.js';
import type { Explanation } from '../lrp/result.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { gpu } from './helpers/gpu.js';
import { modelDir } from './helpers/fixtures.js';

let model: TransformerModel;

beforeAll(async () => {
  await gpu();
  model = await loadModel(modelDir('gpt2'));
});

afterAll(() => model?.dispose());

const CALLS: { ids: number[]; options: ExplainOptions }[] = [
  { ids: [4, 34, 20, 22, 23, 18, 25], options: { method: 'cp-lrp' } },
  { ids: [4, 34, 20, 22, 23, 18, 25], options: { method: 'pa-lrp' } },
  { ids: [7, 1, 90, 3], options: { method: 'attnlrp', target: 5 } },
  { ids: [7, 1, 90, 3], options: { method: 'gi' } },
  { ids: [12, 12, 12, 12, 12, 12, 12, 12, 12], options: { method: 'cp-lrp', target: 40 } },
  { ids: [50, 2], options: { method: 'pa-lrp', positionAggregation: 'abs' } },
  { ids: [4, 34, 20, 22, 23, 18, 25], options: { method: 'cp-lrp', epsilon: 1e-3 } },
  { ids: [95, 0, 33], options: { method: 'attnlrp' } },
];

const runOne = (c: (typeof CALLS)[number]) => explain(model, { ids: [c.ids] }, c.options);

describe('explain() called concurrently on one model', () => {
  it('gives, bit for bit, the results of the same calls made one at a time', async () => {
    const sequential: Explanation[] = [];
    for (const c of CALLS) sequential.push(await runOne(c));
    const concurrent = await Promise.all(CALLS.map(runOne));
    // The bias share must be there to be mixed up: gpt2 has biases in every linear and norm.
    expect(Math.abs(sequential[0]!.conservation.bias)).toBeGreaterThan(0.01);
    for (let i = 0; i < CALLS.length; i++) {
      expect(JSON.stringify(concurrent[i]), `call ${i} (${CALLS[i]!.options.method})`).toBe(JSON.stringify(sequential[i]));
    }
    // And once more in the other order: nothing a call leaves behind changes the next one.
    const again = await Promise.all([...CALLS].reverse().map(runOne));
    again.reverse().forEach((e, i) => expect(JSON.stringify(e), `call ${i}, reversed`).toBe(JSON.stringify(sequential[i])));
  });

  it('leaves no parameter marked as needing a gradient', async () => {
    await Promise.all(CALLS.slice(0, 3).map(runOne));
    const marked = model.parameters().flatMap((p) => p.rowShards()).filter((t) => t.requiresGrad || t.grad);
    expect(marked).toEqual([]);
  });
});
