/**
 * Each LRP rule on its own: its relevance (x ⊙ modified gradient) matches the rule's formula,
 * computed independently in float64 on the host, and it conserves what it should.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { backward } from '../autograd/backward.js';
import { withBackwardRules, type BackwardRule } from '../autograd/graph.js';
import { geluTanh, mul } from '../autograd/ops/elementwise.js';
import { attentionScores, linear } from '../autograd/ops/matmul.js';
import { layerNorm, rmsNorm } from '../autograd/ops/norm.js';
import { gatedProduct } from '../autograd/ops/products.js';
import { rotary } from '../autograd/ops/rotary.js';
import { softmax } from '../autograd/ops/softmax.js';
import { Tensor } from '../autograd/tensor.js';
import { gateDetachedRule } from '../lrp/rules/detach.js';
import { epsilonRule } from '../lrp/rules/epsilon.js';
import { identityRule } from '../lrp/rules/identity.js';
import { normScaleDetachedRule } from '../lrp/rules/normScale.js';
import { softmaxRule } from '../lrp/rules/softmax.js';
import { uniformRule } from '../lrp/rules/uniform.js';
import { gpu } from './helpers/gpu.js';
import { runtime } from '../kernels/runtime.js';
import { expectClose, randomArray, rng } from './helpers/close.js';

beforeAll(async () => {
  await gpu();
});

const random = rng(7);
const sum = (a: ArrayLike<number>): number => Array.from(a).reduce((s, v) => s + v, 0);

/** Runs `f` under `rules`, seeds the output with `g`, returns output and x ⊙ grad per input. */
async function relevance(
  rules: Record<string, BackwardRule>,
  inputs: { data: Float32Array; shape: number[] }[],
  f: (xs: Tensor[]) => Tensor,
): Promise<{ out: Float32Array; seed: Float32Array; R: Float32Array[] }> {
  const xs = inputs.map((i) => Tensor.fromArray(i.data, i.shape).setRequiresGrad());
  const y = withBackwardRules(rules, () => f(xs));
  const out = (await y.toArray()) as Float32Array;
  const seed = randomArray(out.length, random);
  const seedTensor = Tensor.fromArray(seed, y.shape);
  backward(y, { seed: seedTensor });
  const R = await Promise.all(xs.map(async (x, k) => {
    const g = x.grad ? ((await x.grad.toArray()) as Float32Array) : new Float32Array(inputs[k]!.data.length);
    return Float32Array.from(g, (v, i) => v * inputs[k]!.data[i]!);
  }));
  for (const x of xs) x.dispose();
  y.dispose();
  seedTensor.dispose();
  return { out, seed, R };
}

describe('epsilon rule (linear)', () => {
  it('R_x = x ⊙ Wᵀ(R_z ⊘ (z + ε sign z)) and the bias takes b ⊙ R_z ⊘ (z + ε sign z)', async () => {
    const [n, i, o] = [3, 5, 4];
    const x = randomArray(n * i, random);
    const W = randomArray(o * i, random);
    const b = randomArray(o, random);
    const eps = 0.05;
    const { out: z, seed: g, R } = await relevance({ linear: epsilonRule(eps) }, [
      { data: x, shape: [n, i] },
      { data: W, shape: [o, i] },
      { data: b, shape: [o] },
    ], ([xt, wt, bt]) => linear(xt!, wt!.setRequiresGrad(false), bt!));
    const expectedX = new Float64Array(n * i);
    const expectedB = new Float64Array(o);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < o; j++) {
        const zj = z[r * o + j]!;
        const share = (zj * g[r * o + j]!) / (zj + eps * (zj >= 0 ? 1 : -1));
        for (let k = 0; k < i; k++) expectedX[r * i + k] = expectedX[r * i + k]! + x[r * i + k]! * W[j * i + k]! * share;
        expectedB[j] = expectedB[j]! + b[j]! * share;
      }
    }
    expectClose(R[0]!, expectedX, { rtol: 1e-4, atol: 1e-5 }, 'R_x');
    expectClose(R[2]!, expectedB, { rtol: 1e-4, atol: 1e-5 }, 'R_b');
  });
});

describe('uniform rule (products of two variable operands)', () => {
  it('Q·Kᵀ: each operand receives half of the relevance', async () => {
    const q = randomArray(2 * 3 * 4, random);
    const k = randomArray(2 * 5 * 4, random);
    const { out, seed, R } = await relevance({ attentionScores: uniformRule }, [
      { data: q, shape: [2, 3, 4] },
      { data: k, shape: [2, 5, 4] },
    ], ([qt, kt]) => attentionScores(qt!, kt!, 0.5));
    const total = sum(Float32Array.from(out, (v, i) => v * seed[i]!));
    expect(sum(R[0]!)).toBeCloseTo(total / 2, 4);
    expect(sum(R[1]!)).toBeCloseTo(total / 2, 4);
  });

  it('rotary with variable cos and sin: x keeps half, cos + sin take half, per position', async () => {
    const [T, D] = [3, 4];
    const x = randomArray(2 * T * D, random);
    const cos = randomArray(T * D, random);
    const sin = randomArray(T * D, random);
    const { out, seed, R } = await relevance({ rotary: uniformRule }, [
      { data: x, shape: [2, T, D] },
      { data: cos, shape: [T, D] },
      { data: sin, shape: [T, D] },
    ], ([xt, c, s]) => rotary(xt!, c!, s!));
    const total = sum(Float32Array.from(out, (v, i) => v * seed[i]!));
    expect(sum(R[0]!)).toBeCloseTo(total / 2, 4);
    expect(sum(R[1]!) + sum(R[2]!)).toBeCloseTo(total / 2, 4);
  });

  it('gated product: half to the gate, half to up', async () => {
    const a = randomArray(6, random);
    const b = randomArray(6, random);
    const { out, seed, R } = await relevance({ gatedProduct: uniformRule }, [{ data: a, shape: [6] }, { data: b, shape: [6] }], ([x, y]) => gatedProduct(x!, y!));
    const expected = Float64Array.from(out, (v, i) => (v * seed[i]!) / 2);
    expectClose(R[0]!, expected, { rtol: 1e-5, atol: 1e-6 }, 'gate');
    expectClose(R[1]!, expected, { rtol: 1e-5, atol: 1e-6 }, 'up');
  });
});

describe('uniform rule on an elementwise product', () => {
  it('a ⊙ b (b broadcast): half to each, the ½ folded into the product gradients (no affine)', async () => {
    const a = randomArray(2 * 3, random);
    const b = randomArray(3, random);
    const keys: string[] = [];
    const stop = runtime().onDispatch((launch) => keys.push(launch.key));
    const { out, seed, R } = await relevance({ mul: uniformRule }, [{ data: a, shape: [2, 3] }, { data: b, shape: [3] }], ([x, y]) => mul(x!, y!));
    stop();
    const total = sum(Float32Array.from(out, (v, i) => v * seed[i]!));
    expectClose(R[0]!, Float64Array.from(out, (v, i) => (v * seed[i]!) / 2), { rtol: 1e-5, atol: 1e-6 }, 'a');
    expect(sum(R[1]!)).toBeCloseTo(total / 2, 5);
    expect(keys.filter((key) => key.includes('affine'))).toEqual([]);
    expect(keys.filter((key) => key.includes('mulScaled')).length).toBe(2);
  });
});

describe('the uniform rule costs no halving dispatch', () => {
  it('on gatedProduct and rotary the ½ is folded into their backward kernels', async () => {
    const [T, D] = [3, 4];
    const cases: [string, Record<string, BackwardRule>, { data: Float32Array; shape: number[] }[], (xs: Tensor[]) => Tensor][] = [
      ['gatedProduct', { gatedProduct: uniformRule }, [{ data: randomArray(6, random), shape: [6] }, { data: randomArray(6, random), shape: [6] }], ([x, y]) => gatedProduct(x!, y!)],
      [
        'rotary',
        { rotary: uniformRule },
        [{ data: randomArray(2 * T * D, random), shape: [2, T, D] }, { data: randomArray(T * D, random), shape: [T, D] }, { data: randomArray(T * D, random), shape: [T, D] }],
        ([x, c, s]) => rotary(x!, c!, s!),
      ],
    ];
    for (const [name, rules, inputs, f] of cases) {
      const keys: string[] = [];
      const stop = runtime().onDispatch((launch) => keys.push(launch.key));
      const { out, seed, R } = await relevance(rules, inputs, f);
      stop();
      expect(keys.filter((key) => key.includes('affine')), name).toEqual([]);
      // Still half each way: the operands (or x against cos + sin) share the relevance equally.
      const total = sum(Float32Array.from(out, (v, i) => v * seed[i]!));
      expect(sum(R[0]!), name).toBeCloseTo(total / 2, 4);
      expect(R.slice(1).reduce((t, r) => t + sum(r), 0), name).toBeCloseTo(total / 2, 4);
    }
  });
});

describe('gate detached (CP-LRP)', () => {
  it('up receives all of act(gate) ⊙ up relevance, the gate none', async () => {
    const a = randomArray(6, random);
    const b = randomArray(6, random);
    const { out, seed, R } = await relevance({ gatedProduct: gateDetachedRule }, [{ data: a, shape: [6] }, { data: b, shape: [6] }], ([x, y]) => gatedProduct(x!, y!));
    expectClose(R[1]!, Float64Array.from(out, (v, i) => v * seed[i]!), { rtol: 1e-5, atol: 1e-6 }, 'up');
    expect(R[0]!.every((v) => v === 0)).toBe(true);
  });
});

describe('identity rule (activations)', () => {
  it('R_x = R_y elementwise for GELU', async () => {
    const x = randomArray(10, random, -3, 3);
    const { out, seed, R } = await relevance({ geluTanh: identityRule }, [{ data: x, shape: [10] }], ([t]) => geluTanh(t!));
    expectClose(R[0]!, Float64Array.from(out, (v, i) => v * seed[i]!), { rtol: 1e-4, atol: 1e-6 }, 'R_x');
  });
});

describe('softmax rule', () => {
  it('R_x = x ⊙ (R − s·ΣR) with R = s ⊙ g', async () => {
    const x = randomArray(2 * 5, random, -2, 2);
    const { out: s, seed: g, R } = await relevance({ softmax: softmaxRule }, [{ data: x, shape: [2, 5] }], ([t]) => softmax(t!));
    const expected = new Float64Array(10);
    for (let r = 0; r < 2; r++) {
      let total = 0;
      for (let j = 0; j < 5; j++) total += s[r * 5 + j]! * g[r * 5 + j]!;
      for (let j = 0; j < 5; j++) expected[r * 5 + j] = x[r * 5 + j]! * (s[r * 5 + j]! * g[r * 5 + j]! - s[r * 5 + j]! * total);
    }
    expectClose(R[0]!, expected, { rtol: 1e-4, atol: 1e-6 }, 'R_x');
  });
});

describe('norm scale detached', () => {
  it('LayerNorm without bias is conservative: Σ R_x = Σ R_y per row', async () => {
    const x = randomArray(3 * 8, random, -2, 2);
    const w = randomArray(8, random);
    const { out, seed, R } = await relevance({ layerNorm: normScaleDetachedRule }, [{ data: x, shape: [3, 8] }, { data: w, shape: [8] }], ([t, wt]) =>
      layerNorm(t!, wt!.setRequiresGrad(false), null, 1e-5),
    );
    for (let r = 0; r < 3; r++) {
      const rows = (a: ArrayLike<number>, f: (i: number) => number): number => Array.from({ length: 8 }, (_, j) => f(r * 8 + j)).reduce((s, v) => s + v, 0);
      expect(rows(R[0]!, (i) => R[0]![i]!)).toBeCloseTo(rows(out, (i) => out[i]! * seed[i]!), 4);
    }
  });

  it('RMSNorm: R_x = R_y elementwise (the identity rule)', async () => {
    const x = randomArray(2 * 6, random, -2, 2);
    const w = randomArray(6, random);
    const { out, seed, R } = await relevance({ rmsNorm: normScaleDetachedRule }, [{ data: x, shape: [2, 6] }, { data: w, shape: [6] }], ([t, wt]) =>
      rmsNorm(t!, wt!.setRequiresGrad(false), 1e-6),
    );
    expectClose(R[0]!, Float64Array.from(out, (v, i) => v * seed[i]!), { rtol: 1e-4, atol: 1e-6 }, 'R_x');
  });
});
