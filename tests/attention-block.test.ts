/**
 * Detach and backward overrides on a two-layer attention block (two pre-LN causal self-attention
 * layers with residuals, built from our ops, small seeded random weights). The loss is
 * L = Σ w ⊙ block(x); float64 finite differences of the reference block (kernels/reference/) are
 * the ground truth for the default gradient and for the gradient with frozen probabilities.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import {
  ATTENTION_PARAMS,
  attentionLayer,
  refAttentionLayer,
  type AttentionOptions,
  type AttentionParamName,
  type AttentionParams,
} from './helpers/attention-block.js';
import {
  Tensor,
  backward,
  customOp,
  detach,
  mul,
  scale,
  softmax,
  sub,
  sum,
  tidy,
  topologicalNodes,
  withBackwardRules,
  type BackwardRule,
} from '../autograd/index.js';
import { refTensor, type RefTensor } from '../kernels/reference/tensor.js';

beforeAll(async () => {
  await gpu();
});

const [B, T, DIM, HEADS] = [1, 5, 8, 2];
const SHAPES: Record<AttentionParamName, number[]> = {
  ln_weight: [DIM],
  ln_bias: [DIM],
  q_weight: [DIM, DIM],
  q_bias: [DIM],
  k_weight: [DIM, DIM],
  k_bias: [DIM],
  v_weight: [DIM, DIM],
  v_bias: [DIM],
  o_weight: [DIM, DIM],
  o_bias: [DIM],
};

const random = rng(2024);
/** Weights ~ U(±1/√dim) (enough for the softmax to be far from uniform), LN weight 1 ± 0.2, biases ±0.1. */
function layerValues(): AttentionParams<Float32Array> {
  const init = (name: AttentionParamName): Float32Array => {
    const n = SHAPES[name].reduce((a, b) => a * b, 1);
    if (name === 'ln_weight') return randomArray(n, random, 0.8, 1.2);
    if (name.endsWith('bias')) return randomArray(n, random, -0.1, 0.1);
    return randomArray(n, random, -2 / Math.sqrt(DIM), 2 / Math.sqrt(DIM));
  };
  return Object.fromEntries(ATTENTION_PARAMS.map((n) => [n, init(n)])) as AttentionParams<Float32Array>;
}
const X = randomArray(B * T * DIM, random, -1.5, 1.5);
const LAYERS = [layerValues(), layerValues()];
const W = randomArray(B * T * DIM, random, -1, 1);

type LayerGrads = Record<AttentionParamName, Float32Array>;
interface Run {
  out: Float32Array;
  x: Float32Array;
  layers: LayerGrads[];
  /** op and rule of every node reachable from the output, recorded before backward. */
  nodes: { op: string; rule: string | undefined }[];
}

/**
 * Builds `layers` layers on fresh leaves (inside `rules` when given), runs backward of
 * Σ W ⊙ out outside any rule scope, and reads every gradient (zeros where none arrived).
 */
async function run(layers: number, options: Partial<AttentionOptions> = {}, rules?: Record<string, BackwardRule>): Promise<Run> {
  const x = Tensor.fromArray(X, [B, T, DIM]).setRequiresGrad();
  const params = LAYERS.slice(0, layers).map(
    (values) => Object.fromEntries(ATTENTION_PARAMS.map((n) => [n, Tensor.fromArray(values[n], SHAPES[n]).setRequiresGrad()])) as AttentionParams<Tensor>,
  );
  const build = (): Tensor => tidy(() => params.reduce((h, p) => attentionLayer(h, p, { heads: HEADS, ...options }).out, x));
  const out = rules ? withBackwardRules(rules, build) : build();
  const nodes = topologicalNodes(out).map((n) => ({ op: n.op, rule: n.rule }));
  const seed = Tensor.fromArray(W, out.shape);
  backward(out, { seed });
  const read = async (t: Tensor): Promise<Float32Array> => (t.grad ? (await t.grad.toArray()) as Float32Array : new Float32Array(t.size));
  const result: Run = {
    out: (await out.toArray()) as Float32Array,
    x: await read(x),
    layers: [],
    nodes,
  };
  for (const p of params) {
    const grads = {} as LayerGrads;
    for (const n of ATTENTION_PARAMS) grads[n] = await read(p[n]);
    result.layers.push(grads);
  }
  for (const t of [x, out, seed, ...params.flatMap((p) => Object.values(p))]) t.dispose();
  return result;
}

// ---- float64 reference and finite differences ------------------------------------------------

const refLayers = (layers: number): AttentionParams<RefTensor>[] =>
  LAYERS.slice(0, layers).map((v) => Object.fromEntries(ATTENTION_PARAMS.map((n) => [n, refTensor(SHAPES[n], v[n])])) as AttentionParams<RefTensor>);

/** L = Σ W ⊙ block(x) in float64; `frozen` replaces each layer's probabilities by a constant. */
function refLoss(x: RefTensor, layers: AttentionParams<RefTensor>[], frozen?: RefTensor[]): { loss: number; probs: RefTensor[] } {
  const probs: RefTensor[] = [];
  let h = x;
  layers.forEach((p, i) => {
    const layer = refAttentionLayer(h, p, { heads: HEADS, frozenProbs: frozen?.[i] });
    probs.push(layer.probs);
    h = layer.out;
  });
  return { loss: h.data.reduce((s, v, i) => s + v * W[i]!, 0), probs };
}

/** Central differences (h = 1e-5, float64) of the loss w.r.t. every element of `target`. */
function finiteDifferences(target: RefTensor, loss: () => number): Float64Array {
  const h = 1e-5;
  const out = new Float64Array(target.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = target.data[i]!;
    target.data[i] = v + h;
    const up = loss();
    target.data[i] = v - h;
    const down = loss();
    target.data[i] = v;
    out[i] = (up - down) / (2 * h);
  }
  return out;
}

/**
 * f32 forward and backward through two layers against float64 differences: a few ulps per op,
 * compounded (lavapipe agrees to 1e-5 relative; the margin is for less exact GPU exp/division).
 */
const FD_TOL = { rtol: 1e-4, atol: 1e-6 };
const maxAbs = (a: ArrayLike<number>): number => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const isZero = (a: ArrayLike<number>): boolean => Array.from(a).every((v) => v === 0);
const QK: AttentionParamName[] = ['q_weight', 'q_bias', 'k_weight', 'k_bias'];

const ZERO_SOFTMAX: BackwardRule = { name: 'zero', backward: () => [null] };

describe('two-layer attention block', () => {
  it('default gradients match finite differences of the float64 block (q weight of layer 1, v weight of layer 2, x)', async () => {
    const r = await run(2);
    const x = refTensor([B, T, DIM], X);
    const layers = refLayers(2);
    const loss = (): number => refLoss(x, layers).loss;
    expectClose(r.layers[0]!.q_weight, finiteDifferences(layers[0]!.q_weight, loss), FD_TOL, 'dL/dWq layer 1');
    expectClose(r.layers[1]!.v_weight, finiteDifferences(layers[1]!.v_weight, loss), FD_TOL, 'dL/dWv layer 2');
    expectClose(r.x, finiteDifferences(x, loss), FD_TOL, 'dL/dx');
    expect(maxAbs(r.layers[0]!.q_weight)).toBeGreaterThan(1e-2);
    expect(r.nodes.filter((n) => n.op === 'softmax').map((n) => n.rule)).toEqual([undefined, undefined]);
  });

  it('(a) detach on the probabilities: no gradient into q/k, v still gets the frozen-probability gradient, and the detach nodes are in the graph', async () => {
    const r = await run(2, { probs: detach });
    expect(r.nodes.filter((n) => n.op === 'detach')).toHaveLength(2);
    for (const [i, layer] of r.layers.entries()) {
      for (const name of QK) expect(isZero(layer[name]), `layer ${i + 1} ${name} gradient is zero`).toBe(true);
      expect(maxAbs(layer.v_weight), `layer ${i + 1} v_weight gradient`).toBeGreaterThan(1e-2);
    }
    // Ground truth: the float64 block with each layer's probabilities frozen at their values.
    const x = refTensor([B, T, DIM], X);
    const layers = refLayers(2);
    const frozen = refLoss(x, layers).probs;
    const loss = (): number => refLoss(x, layers, frozen).loss;
    for (const i of [0, 1]) {
      expectClose(r.layers[i]!.v_weight, finiteDifferences(layers[i]!.v_weight, loss), FD_TOL, `frozen dL/dWv layer ${i + 1}`);
      expectClose(r.layers[i]!.v_bias, finiteDifferences(layers[i]!.v_bias, loss), FD_TOL, `frozen dL/dbv layer ${i + 1}`);
    }
    expectClose(r.x, finiteDifferences(x, loss), FD_TOL, 'frozen dL/dx');
    // The forward is unchanged by detach.
    expect(r.out).toEqual((await run(2)).out);
  });

  it('(b) a zero softmax rule gives exactly the detach gradients; outside its scope softmax has its default gradient again', async () => {
    const detached = await run(2, { probs: detach });
    // Recorded inside the scope, differentiated after it ended: the rule is bound at record time.
    const zeroed = await run(2, {}, { softmax: ZERO_SOFTMAX });
    expect(zeroed.nodes.filter((n) => n.op === 'softmax').map((n) => n.rule)).toEqual(['zero', 'zero']);
    expect(zeroed.nodes.some((n) => n.op === 'detach')).toBe(false);
    expect(zeroed.x).toEqual(detached.x);
    for (const i of [0, 1]) {
      for (const name of ATTENTION_PARAMS) expect(zeroed.layers[i]![name], `layer ${i + 1} ${name}`).toEqual(detached.layers[i]![name]);
    }

    const after = await run(2);
    expect(after.nodes.filter((n) => n.op === 'softmax').map((n) => n.rule)).toEqual([undefined, undefined]);
    const x = refTensor([B, T, DIM], X);
    const layers = refLayers(2);
    const fd = finiteDifferences(layers[0]!.q_weight, () => refLoss(x, layers).loss);
    expectClose(after.layers[0]!.q_weight, fd, FD_TOL, 'dL/dWq layer 1 after the scope');
    expect(maxAbs(fd)).toBeGreaterThan(1e-2);
  });

  it('(c) an attentionScores rule that halves its gradients halves exactly the q and k projection gradients of one layer', async () => {
    const uniform: BackwardRule = {
      name: 'uniform',
      backward: (ctx, g) => ctx.defaultBackward(g).map((t) => (t ? scale(t, 0.5) : null)),
    };
    const plain = (await run(1)).layers[0]!;
    const halved = await run(1, {}, { attentionScores: uniform });
    expect(halved.nodes.filter((n) => n.op === 'attentionScores').map((n) => n.rule)).toEqual(['uniform']);
    const h = halved.layers[0]!;
    for (const name of QK) {
      // (k's bias shifts every score of a query row equally, which softmax ignores: its true gradient is 0.)
      if (name !== 'k_bias') expect(maxAbs(plain[name]), `${name} default gradient`).toBeGreaterThan(1e-3);
      // Halving is exact in binary floating point and every op after it is linear in the gradient.
      expect(Array.from(h[name]), name).toEqual(Array.from(plain[name], (v) => v / 2));
    }
    // v and o do not see the scores' backward: their gradients are the same bits.
    for (const name of ['v_weight', 'v_bias', 'o_weight', 'o_bias'] as const) expect(h[name], name).toEqual(plain[name]);
    // LayerNorm feeds q, k and v, so its gradient changes, but not by a factor of 2.
    expect(h.ln_weight).not.toEqual(plain.ln_weight);
    expect(h.ln_weight).not.toEqual(plain.ln_weight.map((v) => v / 2));
  });

  it('(d) a custom softmax op with a user backward inside the block: its backward runs once per layer and gives the default gradients', async () => {
    let calls = 0;
    const userSoftmax = customOp<undefined>({
      name: 'userSoftmax',
      forward: ([x]) => softmax(x!),
      backward: (ctx, g) => {
        calls++;
        const s = ctx.output;
        return [mul(s, sub(g, sum(mul(s, g), -1, true)))];
      },
    });
    const custom = await run(2, { softmax: (m) => userSoftmax([m], undefined) });
    expect(calls).toBe(2);
    const ops = custom.nodes.map((n) => n.op);
    expect(ops.filter((op) => op === 'userSoftmax')).toHaveLength(2);
    // The custom forward runs without recording: no softmax node of its own.
    expect(ops).not.toContain('softmax');

    const builtin = await run(2);
    expect(custom.out).toEqual(builtin.out);
    expectClose(custom.x, builtin.x, { rtol: 1e-5, atol: 1e-7 }, 'dL/dx');
    for (const i of [0, 1]) {
      for (const name of ATTENTION_PARAMS) {
        // k's bias has a true gradient of 0 (softmax ignores a shift of a whole row of scores): both
        // sides give float32 rounding noise there, from sums taken in different orders.
        const tol = name === 'k_bias' ? { rtol: 0, atol: 1e-6 } : { rtol: 1e-5, atol: 1e-7 };
        expectClose(custom.layers[i]![name], builtin.layers[i]![name], tol, `layer ${i + 1} ${name}`);
      }
    }
    const x = refTensor([B, T, DIM], X);
    const layers = refLayers(2);
    expectClose(custom.layers[0]!.k_weight, finiteDifferences(layers[0]!.k_weight, () => refLoss(x, layers).loss), FD_TOL, 'dL/dWk layer 1');

    // A custom op takes part in rule overrides by its name, like a built-in op.
    calls = 0;
    const zeroed = await run(2, { softmax: (m) => userSoftmax([m], undefined) }, { userSoftmax: ZERO_SOFTMAX });
    expect(calls).toBe(0);
    const detached = await run(2, { probs: detach });
    expect(zeroed.x).toEqual(detached.x);
    expect(zeroed.layers[1]!.v_weight).toEqual(detached.layers[1]!.v_weight);
  });
});
