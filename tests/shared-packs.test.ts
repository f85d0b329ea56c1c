/**
 * `sharingPacksOf`: products that multiply the same activations by different weights (q, k and v;
 * gate and up) pack the activations once. The results must be those of separate packings, the
 * textures must be back in the pool when the scope ends (also when it throws), and views of other
 * buffers, or other views of the same buffer, must not be mistaken for the shared one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../autograd/graph.js';
import { linear } from '../autograd/ops/matmul.js';
import { slice } from '../autograd/ops/view.js';
import { Tensor } from '../autograd/tensor.js';
import { sharingPacksOf } from '../kernels/matmul.js';
import { runtime } from '../kernels/runtime.js';
import { mul, sigmoid } from '../autograd/ops/elementwise.js';
import { SelfAttention } from '../nn/layers/attention.js';
import { GatedMlp } from '../nn/layers/mlp.js';
import type { Parameter } from '../nn/module.js';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';

beforeAll(async () => {
  await gpu();
});

/** Runs `fn`, counting the packing dispatches it records. */
function packsDuring<T>(fn: () => T): { result: T; packs: number } {
  let packs = 0;
  const stop = runtime().onDispatch((launch) => {
    if (launch.key.startsWith('packTexture/')) packs++;
  });
  try {
    return { result: fn(), packs };
  } finally {
    stop();
  }
}

const bits = (a: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));

describe('sharingPacksOf', () => {
  const random = rng(5);
  const [T, D, N] = [64, 96, 128];
  const x = (): Tensor => Tensor.fromArray(randomArray(T * D, random), [T, D]);
  let weights: Tensor[] = [];
  beforeAll(() => {
    weights = [0, 1, 2].map(() => Tensor.fromArray(randomArray(N * D, random), [N, D]));
  });

  it('three products of one x pack it once, with the separate packings\' results bit for bit', async () => {
    const input = x();
    const separate = packsDuring(() => noGrad(() => weights.map((w) => linear(input, w, null))));
    expect(separate.packs).toBe(3);
    const shared = packsDuring(() => sharingPacksOf(input.buffer, () => noGrad(() => weights.map((w) => linear(input, w, null)))));
    expect(shared.packs).toBe(1);
    for (let i = 0; i < 3; i++) expect(bits(await shared.result[i]!.toArray())).toEqual(bits(await separate.result[i]!.toArray()));
    for (const t of [input, ...separate.result, ...shared.result]) t.dispose();
  });

  it('packs other views of the buffer and other buffers separately', async () => {
    const input = x();
    const other = x();
    const rows = slice(input, 0, 0, T / 2);
    const { result, packs } = packsDuring(() =>
      sharingPacksOf(input.buffer, () => noGrad(() => [linear(input, weights[0]!, null), linear(rows, weights[1]!, null), linear(other, weights[2]!, null), linear(input, weights[2]!, null)])),
    );
    // input (once, reused by the last product), its first rows, the other tensor.
    expect(packs).toBe(3);
    const expected = noGrad(() => [linear(rows, weights[1]!, null), linear(other, weights[2]!, null)]);
    expect(bits(await result[1]!.toArray())).toEqual(bits(await expected[0]!.toArray()));
    expect(bits(await result[2]!.toArray())).toEqual(bits(await expected[1]!.toArray()));
    for (const t of [input, other, rows, ...result, ...expected]) t.dispose();
  });

  it('returns the textures to the pool when the scope ends, also when it throws', async () => {
    const input = x();
    const before = runtime().textures.snapshot().liveBytes;
    const out = sharingPacksOf(input.buffer, () => noGrad(() => linear(input, weights[0]!, null)));
    expect(runtime().textures.snapshot().liveBytes).toBe(before);
    expect(() =>
      sharingPacksOf(input.buffer, () => {
        noGrad(() => linear(input, weights[1]!, null)).dispose();
        throw new Error('inside');
      }),
    ).toThrow('inside');
    expect(runtime().textures.snapshot().liveBytes).toBe(before);
    for (const t of [input, out]) t.dispose();
  });

});

describe('the layers that share a packing', () => {
  const random = rng(9);
  /** Packing dispatches during `fn` that read `buffer`. */
  function packsOf(buffer: GPUBuffer, fn: () => Tensor): { out: Tensor; packs: number } {
    let packs = 0;
    const stop = runtime().onDispatch((launch) => {
      if (launch.key.startsWith('packTexture/') && launch.bindings.includes(buffer)) packs++;
    });
    try {
      return { out: noGrad(fn), packs };
    } finally {
      stop();
    }
  }
  const fill = (module: { parameters(): Parameter[] }): void => {
    for (const p of module.parameters()) p.set(Tensor.fromArray(randomArray(p.spec.shape.reduce((a, b) => a * b, 1), random, -0.2, 0.2), p.spec.shape));
  };

  it('attention with separate q, k, v projections packs its input once', async () => {
    const attention = new SelfAttention('layers.0.self_attn', { hidden: 128, heads: 4, kvHeads: 4, headDim: 32 }, { names: { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj' }, qkvBias: true, outBias: false });
    fill(attention);
    const x = Tensor.fromArray(randomArray(64 * 128, random), [1, 64, 128]);
    const { out, packs } = packsOf(x.buffer, () => attention.forward(x, null, null));
    expect(packs).toBe(1);
    expect((await out.toArray()).every(Number.isFinite)).toBe(true);
    for (const t of [x, out]) t.dispose();
    attention.dispose();
  });

  it('a gated MLP packs its input once for gate and up', async () => {
    const mlp = new GatedMlp('layers.0.mlp', 96, 128, 'silu');
    fill(mlp);
    const x = Tensor.fromArray(randomArray(64 * 96, random), [1, 64, 96]);
    const { out, packs } = packsOf(x.buffer, () => mlp.forward(x));
    expect(packs).toBe(1);
    // down(silu(gate(x)) ⊙ up(x)), composed from the layers' own products.
    const expected = noGrad(() => {
      const gate = mlp.gate.forward(x);
      const up = mlp.up.forward(x);
      const product = mul(mul(gate, sigmoid(gate)), up);
      return mlp.down.forward(product);
    });
    expectClose(await out.toArray(), await expected.toArray(), { rtol: 1e-5, atol: 1e-6 }, 'gated MLP');
    for (const t of [x, out, expected]) t.dispose();
    mlp.dispose();
  });
});
