/**
 * An explanation differentiates the explained logits alone (`LogitRowHead.logitsOf`): their
 * products read one row of the head matrix each, so the backward does not multiply by the whole
 * [V, D] matrix for a seed that is zero but for one or two entries. The relevance must be what a
 * backward from the whole row gives, and the head's rows must be found across row blocks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../autograd/tensor.js';
import { tidy } from '../autograd/scope.js';
import { noGrad } from '../autograd/graph.js';
import { InputError } from '../kernels/errors.js';
import { P } from '../kernels/matmul/spec.js';
import { runtime } from '../kernels/runtime.js';
import { explain } from '../lrp/explain.js';
import type { Explanation, MethodName } from '../lrp/result.js';
import { loadModel } from '../nn/folder.js';
import { lmHead, lmHeadRows } from '../nn/models/head.js';
import type { ForwardOptions, ModelInput, TransformerModel } from '../nn/models/types.js';
import { Parameter } from '../nn/module.js';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { modelDir, readReference } from './helpers/fixtures.js';

const NAMES = ['gpt2', 'llama-bf16', 'qwen2'] as const;
const models = new Map<string, TransformerModel>();

beforeAll(async () => {
  await gpu();
  for (const name of NAMES) models.set(name, await loadModel(modelDir(name)));
});

afterAll(() => {
  for (const m of models.values()) m.dispose();
});

/** The same model, but its forward hands explain() no row heads: the backward starts from the whole row. */
function wholeRowModel(model: TransformerModel): TransformerModel {
  const forward = (input: ModelInput, options?: ForwardOptions): Tensor => model.forward(input, { ...options, onLogitRow: undefined });
  return Object.assign(Object.create(model) as TransformerModel, { forward });
}

function relevanceOf(e: Explanation): number[] {
  return [...e.tokens.map((t) => t.token), ...e.details!.positionSigned, ...e.details!.positionalTensors.flatMap((p) => p.relevance)];
}

/**
 * Matmul dispatches during `fn` that multiply by the whole head: they bind a buffer of the
 * [V, D] matrix (the token embedding, or `lm_head`) and have V as one of their dimensions (M, N or K).
 */
async function wholeHeadProducts(model: TransformerModel, fn: () => Promise<unknown>): Promise<number> {
  const vocab = model.info.vocabSize;
  const head = new Set<unknown>(model.parameters().filter((p) => p.loaded && /(wte|embed_tokens|lm_head)\.weight$/.test(p.name)).flatMap((p) => p.rowShards().map((t) => t.buffer)));
  expect(head.size).toBeGreaterThan(0);
  let count = 0;
  const stop = runtime().onDispatch((launch) => {
    if (!launch.key.startsWith('matmul/') || !launch.bindings.some((b) => head.has(b))) return;
    if ([P.M, P.N, P.K].some((at) => launch.params[at] === vocab)) count++;
  });
  try {
    await fn();
  } finally {
    stop();
  }
  return count;
}

describe('lmHeadRows: chosen logits by rows of the head', () => {
  it('equals those columns of the whole head, across row blocks and in the order given', async () => {
    const random = rng(7);
    const [V, D] = [11, 8];
    const w = randomArray(V * D, random);
    const whole = new Parameter({ name: 'whole.weight', shape: [V, D] });
    whole.set(Tensor.fromArray(w, [V, D]));
    const blocks = new Parameter({ name: 'blocks.weight', shape: [V, D] });
    // Blocks of 4, 4 and 3 rows, as the loader cuts a matrix at the binding limit.
    blocks.setShards([0, 4, 8].map((r) => Tensor.fromArray(w.subarray(r * D, Math.min(r + 4, V) * D), [Math.min(4, V - r), D])));
    const x = Tensor.fromArray(randomArray(2 * D, random), [2, 1, D]);
    const all = await tidy(() => noGrad(() => lmHead(x, whole))).toArray();
    const ids = [9, 0, 4, 3, 10];
    for (const weight of [whole, blocks]) {
      const got = tidy(() => noGrad(() => lmHeadRows(x, weight, ids)));
      expect(got.shape).toEqual([2, 1, ids.length]);
      const expected = [0, 1].flatMap((b) => ids.map((id) => all[b * V + id]!));
      expectClose(await got.toArray(), expected, { rtol: 1e-6, atol: 1e-6 }, weight.name);
      got.dispose();
    }
    expect(() => lmHeadRows(x, blocks, [V])).toThrow(InputError);
    expect(() => lmHeadRows(x, blocks, [-1])).toThrow(InputError);
    for (const t of [whole, blocks, x]) t.dispose();
  });
});

describe('explain() differentiates the explained logits alone', () => {
  const cases: [(typeof NAMES)[number], MethodName, number | undefined, number | undefined][] = [
    ['gpt2', 'pa-lrp', undefined, undefined],
    ['gpt2', 'cp-lrp', 7, 3],
    ['llama-bf16', 'attnlrp', undefined, 5],
    ['qwen2', 'pa-lrp', 2, undefined],
  ];
  for (const [name, method, target, contrast] of cases) {
    it(`${name} ${method}${target === undefined ? '' : ` target ${target}`}${contrast === undefined ? '' : ` contrast ${contrast}`}: the whole row's relevance, one vocabulary-wide product`, async () => {
      const model = models.get(name)!;
      const input = { ids: readReference(name).input_ids! };
      const options = { method, target, contrast };
      let narrow: Explanation | undefined;
      let whole: Explanation | undefined;
      // Only the forward's logits span the vocabulary; a backward from the whole row adds g · W.
      expect(await wholeHeadProducts(model, async () => (narrow = await explain(model, input, options)))).toBe(1);
      expect(await wholeHeadProducts(model, async () => (whole = await explain(wholeRowModel(model), input, options)))).toBe(2);
      expect(narrow!.target).toBe(whole!.target);
      expect(narrow!.logit).toBe(whole!.logit);
      expectClose(relevanceOf(narrow!), relevanceOf(whole!), { rtol: 1e-5, atol: 1e-6 }, `${name} ${method}`);
      expect(narrow!.conservation.relativeError).toBeLessThan(1e-4);
    });
  }
});
