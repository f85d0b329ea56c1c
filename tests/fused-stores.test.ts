/**
 * Two ops from one matmul dispatch (kernels/matmul `matmulThen`, autograd `offerResult`): a linear
 * layer's kernel also stores its activation or its sum with the residual stream, the attention
 * scores' kernel their sum with the mask. The second op still records its own node, so the graph,
 * its rules and every number are those of the separate calls; only the dispatch count drops.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { bitsOf } from './helpers/bits.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { modelDir, referenceInput } from './helpers/fixtures.js';
import { Tensor, add, geluTanh, noGrad, silu, sum, tidy, transpose, unsqueeze } from '../autograd/index.js';
import { backward } from '../autograd/backward.js';
import { attentionScores, attentionScoresOffering, linear, linearOffering } from '../autograd/ops/matmul.js';
import { offerResult } from '../autograd/op.js';
import { topologicalNodes } from '../autograd/backward.js';
import { wrap } from '../autograd/ops/wrap.js';
import { elementwise, type StoreActivation } from '../kernels/elementwise.js';
import { MATMUL_VARIANTS, matmul as matmulKernel, matmulThen, type MatmulVariant } from '../kernels/matmul.js';
import { runtime } from '../kernels/runtime.js';
import { measure } from '../kernels/stats.js';
import { loadModel } from '../nn/folder.js';
import { explain } from '../lrp/explain.js';

beforeAll(async () => {
  await gpu();
});

const random = rng(23);
const tensor = (shape: number[]): Tensor => Tensor.fromArray(randomArray(shape.reduce((a, b) => a * b, 1), random, 2), shape);

describe('matmulThen stores a second result from the same epilogue', () => {
  // Every activation on the variant linear layers take on lavapipe, one each on the others (each
  // activation is a pipeline to compile, which dominates this file's time).
  const variants: [string, MatmulVariant, 'a' | 'b' | undefined, StoreActivation[]][] = [
    ['software', MATMUL_VARIANTS.software, undefined, ['geluTanh']],
    ['packed A (Cᵀ stored)', MATMUL_VARIANTS.softwarePacked, 'a', ['geluTanh', 'geluErf', 'silu', 'relu']],
    ['packed B', MATMUL_VARIANTS.softwarePacked, 'b', ['silu']],
    ['hardware', MATMUL_VARIANTS.hardware, undefined, ['geluErf']],
  ];
  for (const [name, variant, packed, activations] of variants)
    it(`${name}: activations with a bias, and a strided broadcast addend, equal the separate kernels bit for bit`, async (ctx) => {
      if (variant.textureB && runtime().adapterInfo.subgroupSize !== 8) ctx.skip();
      const x = tensor([2, 37, 24]);
      const w = tensor([70, 24]);
      const bias = tensor([70]);
      const wt = transpose(w);
      for (const activation of activations) {
        const { product, then } = matmulThen(x, wt, { variant, packed, bias, then: { activation } });
        const plain = wrap(matmulKernel(x, wt, { variant, packed, bias }));
        const separate = wrap(elementwise(activation, [plain]));
        expect(bitsOf(await wrap(product).toArray()), `${activation} product`).toEqual(bitsOf(await plain.toArray()));
        expect(bitsOf(await wrap(then).toArray()), activation).toEqual(bitsOf(await separate.toArray()));
      }
      // Attention-shaped: scores [2, 3, 2, 5, 6] plus a mask [2, 1, 1, 5, 6] seen through a transposed view.
      const q = tensor([2, 3, 2, 5, 8]);
      const k = tensor([2, 3, 1, 6, 8]);
      const maskStore = tensor([2, 6, 5]);
      const mask = unsqueeze(unsqueeze(transpose(maskStore), 1), 1);
      const kt = transpose(k);
      const { product, then } = matmulThen(q, kt, { variant, packed, alpha: 0.25, then: { addend: mask } });
      const scores = wrap(matmulKernel(q, kt, { variant, packed, alpha: 0.25 }));
      expect(bitsOf(await wrap(product).toArray())).toEqual(bitsOf(await scores.toArray()));
      expect(bitsOf(await wrap(then).toArray())).toEqual(bitsOf(await wrap(elementwise('add', [scores, mask])).toArray()));
      // In a memory order: both results share the product's layout.
      const ordered = matmulThen(x, wt, { variant, packed, memoryOrder: [1, 0, 2], then: { activation: 'silu' } });
      expect(ordered.then.strides).toEqual(ordered.product.strides);
      expectClose(await wrap(ordered.then).toArray(), await silu(wrap(ordered.product)).toArray(), { rtol: 0, atol: 0 }, 'ordered');
    });

  for (const [name, variant, packed] of variants.map(([n, v, p]) => [n, v, p] as const))
    it(`${name}: accumulate adds a view into the product's own store, equal to the product then an add, bit for bit`, async (ctx) => {
      if (variant.textureB && runtime().adapterInfo.subgroupSize !== 8) ctx.skip();
      const x = tensor([2, 37, 24]);
      const w = tensor([70, 24]);
      const bias = tensor([70]);
      const wt = transpose(w);
      // A transposed view as the addend, and a row broadcast along the first dims.
      const store = tensor([70, 2, 37]);
      const prior = transpose(transpose(store, 0, 2), 0, 1); // [2, 37, 70], strided
      for (const addend of [prior, tensor([70])]) {
        const dispatches = runtime().counters().dispatches;
        const summed = wrap(matmulKernel(x, wt, { variant, packed, bias, alpha: 0.5, accumulate: addend }));
        const packs = packed ? 1 : 0;
        expect(runtime().counters().dispatches - dispatches).toBe(1 + packs);
        const plain = wrap(matmulKernel(x, wt, { variant, packed, bias, alpha: 0.5 }));
        const separate = wrap(elementwise('add', [plain, addend]));
        expect(bitsOf(await summed.toArray())).toEqual(bitsOf(await separate.toArray()));
      }
      expect(() => matmulThen(x, wt, { variant, packed, then: { activation: 'silu' }, accumulate: prior })).toThrow(/not both/);
    });

  it('refuses an addend that does not broadcast to the product', () => {
    const a = tensor([4, 3]);
    const b = tensor([3, 5]);
    expect(() => matmulThen(a, b, { then: { addend: tensor([4, 4]) } })).toThrow(/cannot add an addend of shape \[4, 4\]/);
    expect(() => matmulKernel(a, b, { then: { activation: 'relu' } })).toThrow(/matmulThen/);
  });
});

describe('a transposed C is stored four rows at a time where they fit', () => {
  // A packed (40 rows, 72 columns: C is computed transposed), 72 = 18 quads of the kernel's rows.
  const operands = (): { x: Tensor; wt: Tensor; bias: Tensor; prior: Tensor } => ({
    x: tensor([40, 24]),
    wt: transpose(tensor([72, 24])),
    bias: tensor([72]),
    prior: transpose(tensor([72, 40])), // a strided addend [40, 72]
  });
  type Options = NonNullable<Parameters<typeof matmulKernel>[2]>;
  const cases: [string, (o: ReturnType<typeof operands>) => Options][] = [
    ['plain, scaled and biased', ({ bias }) => ({ bias, alpha: 0.5 })],
    ['with GELU stored beside', ({ bias }) => ({ bias, then: { activation: 'geluTanh' } })],
    ['with an added strided view stored beside', ({ bias, prior }) => ({ bias, then: { addend: prior } })],
    ['accumulating a strided view', ({ prior }) => ({ alpha: 2, accumulate: prior })],
  ];
  const keysOf = async (fn: () => Promise<void>): Promise<string[]> => (await measure(fn, { byKernel: true })).kernels.map((k) => k.key).filter((k) => k.startsWith('matmul/'));
  const variant = MATMUL_VARIANTS.softwarePacked;
  for (const [name, optionsOf] of cases)
    it(`${name}: equal bit for bit to one element per store, and to float64`, async (ctx) => {
      if (runtime().adapterInfo.subgroupSize !== 8) ctx.skip(); // the packed variant
      const t = operands();
      const options = optionsOf(t);
      const run = async (scalarStores: boolean): Promise<ArrayLike<number>[]> => {
        const o = { ...options, variant, scalarStores };
        if (!o.then) return [await wrap(matmulKernel(t.x, t.wt, o)).toArray()];
        const { product, then } = matmulThen(t.x, t.wt, { ...o, then: o.then });
        return [await wrap(product).toArray(), await wrap(then).toArray()];
      };
      let quads: ArrayLike<number>[] = [];
      let scalars: ArrayLike<number>[] = [];
      expect(await keysOf(async () => void (quads = await run(false)))).toEqual([expect.stringContaining('"storeVec4":true')]);
      expect(await keysOf(async () => void (scalars = await run(true)))).toEqual([expect.stringContaining('"storeVec4":false')]);
      expect(quads.map(bitsOf)).toEqual(scalars.map(bitsOf));
      // Against float64: the product, its scale, its bias and what the store accumulates.
      const [xs, ws, bs, ps] = await Promise.all([t.x.toArray(), t.wt.toArray(), t.bias.toArray(), t.prior.toArray()]);
      const expected = new Float64Array(40 * 72).map((_, i) => {
        const [r, c] = [Math.floor(i / 72), i % 72];
        let dot = 0;
        for (let k = 0; k < 24; k++) dot += xs[r * 24 + k]! * ws[k * 72 + c]!;
        return dot * (options.alpha ?? 1) + (options.bias ? bs[c]! : 0) + (options.accumulate ? ps[i]! : 0);
      });
      expectClose(quads[0]!, expected, { rtol: 1e-5, atol: 1e-5 }, name);
      // What is stored beside is the separate kernel's result of the product, bit for bit.
      const then = options.then;
      if (then) {
        const product = Tensor.fromArray(Float32Array.from(quads[0]!), [40, 72]);
        const separate = 'activation' in then ? elementwise(then.activation, [product]) : elementwise('add', [product, t.prior]);
        expect(bitsOf(quads[1]!)).toEqual(bitsOf(await wrap(separate).toArray()));
      }
    });

  it("falls back to one element per store where the kernel's rows do not come in quads", async (ctx) => {
    if (runtime().adapterInfo.subgroupSize !== 8) ctx.skip();
    const { x } = operands();
    const w70 = transpose(tensor([70, 24]));
    let values: ArrayLike<number> = [];
    const keys = await keysOf(async () => void (values = await wrap(matmulKernel(x, w70, { variant })).toArray()));
    expect(keys).toHaveLength(1);
    expect(keys[0]).toContain('"storeVec4":false');
    expect(keys[0]).toContain('"transposedC":true');
    const scalar = await wrap(matmulKernel(x, w70, { variant, scalarStores: true })).toArray();
    expect(bitsOf(values)).toEqual(bitsOf(scalar));
  });
});

describe('offerResult: the next matching call takes the result, and records its node as usual', () => {
  it('is taken once, by the same op on the same inputs with equal attributes', async () => {
    const x = tensor([3, 4]);
    const offered = wrap(elementwise('exp', [x]));
    offerResult('geluTanh', [x], { scalars: [] }, offered);
    // Another op, or other inputs, run their own forward.
    const other = silu(x);
    expect(other).not.toBe(offered);
    const taken = geluTanh(x);
    expect(taken).toBe(offered); // the offer (here deliberately another op's values) is what the call returns
    const again = geluTanh(x);
    expect(again).not.toBe(offered);
    expectClose(await again.toArray(), await wrap(elementwise('geluTanh', [x])).toArray(), { rtol: 0, atol: 0 }, 'recomputed');
  });

  it('an offer nobody takes is freed with its tidy scope', async () => {
    await runtime().sync();
    const before = runtime().pool.snapshot().liveBytes;
    const x = tensor([64, 64]);
    const w = tensor([64, 64]);
    tidy(() => {
      linearOffering(x, w, null, 'geluTanh'); // the activation is never applied
    });
    for (const t of [x, w]) t.dispose();
    await runtime().sync();
    expect(runtime().pool.snapshot().liveBytes).toBe(before);
  });

  it('linear then GELU, attention scores then the mask: the same graph, values and gradients, one dispatch fewer each', async () => {
    const x = tensor([2, 9, 16]).setRequiresGrad();
    const w = tensor([24, 16]).setRequiresGrad();
    const bias = tensor([24]).setRequiresGrad();
    const q = tensor([2, 3, 9, 8]).setRequiresGrad();
    const k = tensor([2, 3, 9, 8]).setRequiresGrad();
    const mask = tensor([2, 1, 9, 9]);
    const run = (fused: boolean): { out: Tensor; dispatches: number } => {
      const start = runtime().counters().dispatches;
      const z = fused ? linearOffering(x, w, bias, 'geluTanh') : linear(x, w, bias);
      const a = geluTanh(z);
      const s = fused ? attentionScoresOffering(q, k, 0.5, mask) : attentionScores(q, k, 0.5);
      const m = add(s, mask);
      const out = add(sum(a), sum(m));
      return { out, dispatches: runtime().counters().dispatches - start };
    };
    const plain = run(false);
    const fused = run(true);
    expect(plain.dispatches - fused.dispatches).toBe(2);
    expect(topologicalNodes(fused.out).map((n) => n.op)).toEqual(topologicalNodes(plain.out).map((n) => n.op));
    expect(bitsOf(await fused.out.toArray())).toEqual(bitsOf(await plain.out.toArray()));
    const grads = async (out: Tensor): Promise<number[][]> => {
      for (const t of [x, w, bias, q, k]) t.grad = null;
      backward(out);
      return Promise.all([x, w, bias, q, k].map(async (t) => bitsOf(await t.grad!.toArray())));
    };
    expect(await grads(fused.out)).toEqual(await grads(plain.out));
  });
});

describe('models use the fused stores', () => {
  it('GPT-2: the forward runs no separate GELU, mask or residual add, and explains exactly as before', async () => {
    const model = await loadModel(modelDir('gpt2'));
    const input = referenceInput('gpt2');
    const { kernels } = await measure(
      async () => {
        const logits = noGrad(() => model.forward(input));
        await logits.toArray();
        logits.dispose();
      },
      { byKernel: true },
    );
    const count = (prefix: string): number => kernels.filter((k) => k.key.startsWith(prefix)).reduce((n, k) => n + k.dispatches, 0);
    const layers = model.info.layers;
    expect(count('elementwise/geluTanh')).toBe(0);
    expect(count('elementwise/add')).toBe(1); // token + position embeddings only: no mask, no residual add
    expect(kernels.filter((k) => k.key.includes('"then":"geluTanh"')).reduce((n, k) => n + k.dispatches, 0)).toBe(layers);
    expect(kernels.filter((k) => k.key.includes('"then":"add"')).reduce((n, k) => n + k.dispatches, 0)).toBe(3 * layers);
    const explanation = await explain(model, input, { method: 'pa-lrp' });
    expect(Math.abs(explanation.conservation.relativeError)).toBeLessThan(1e-4);
    model.dispose();
  });
});
