/**
 * Every case of tests/fixtures/ops.json (PyTorch 1.13, float64, from f32-exact inputs) run through
 * our ops on the GPU: the output, and the gradients of sum(output ⊙ w) with respect to every input
 * the fixture lists under `grads`. The two composites (pre-LN causal attention, SwiGLU) are built
 * from our ops and also compared at their recorded intermediates. A case whose op name has no
 * mapping here fails, and the last test checks that every case in the file was handled.
 *
 * Models: every text family on a padded batch (two sequences of different lengths, an
 * attention_mask with zeros) against the float64 PyTorch forward of tests/fixtures/models.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, type Tolerance } from './helpers/close.js';
import { FIXTURES, flatten, modelDir, readReference, type PaddedReference } from './helpers/fixtures.js';
import { loadModel } from '../nn/folder.js';
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import { ATTENTION_PARAMS, attentionLayer, type AttentionParams } from './helpers/attention-block.js';
import {
  Tensor,
  abs,
  add,
  backward,
  concat,
  div,
  embedding,
  erf,
  exp,
  gatedProduct,
  gelu,
  geluTanh,
  layerNorm,
  linear,
  log,
  logSoftmax,
  matmul,
  max,
  maximum,
  mean,
  minimum,
  mul,
  neg,
  permute,
  pow,
  powScalar,
  relu,
  rmsNorm,
  rotary,
  rsqrt,
  sigmoid,
  silu,
  slice,
  softmax,
  sqrt,
  sub,
  sum,
  tanh,
  transpose,
  variance,
  where,
} from '../autograd/index.js';

interface FixtureTensor {
  shape: number[];
  data: number[];
  dtype?: 'int32' | 'bool';
}

interface FixtureCase {
  name: string;
  case: string;
  attrs: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  output: FixtureTensor;
  w: FixtureTensor;
  grads: Record<string, FixtureTensor>;
  intermediates?: Record<string, FixtureTensor>;
}

const FILE = JSON.parse(readFileSync(join(FIXTURES, 'ops.json'), 'utf8')) as { ops: FixtureCase[]; composites: FixtureCase[] };

beforeAll(async () => {
  await gpu();
});

/**
 * Default tolerance. The inputs are exact f32 values and the fixture is float64, so what is left
 * is our f32 arithmetic: a few ulps per op (~1e-7 relative) compounded over the forward and the
 * backward, with atol for the cancellation in values near zero.
 */
const F32: Tolerance = { rtol: 1e-4, atol: 1e-5 };
// (On lavapipe every case also passes at rtol 1e-5, atol 1e-6; the margin is for GPUs whose exp,
// tanh and division are less exact than correctly rounded f32. No case needs a looser tolerance.)

type Inputs = Record<string, Tensor>;
type Attrs = Record<string, unknown>;

interface Mapping {
  /** Our op(s) for the fixture's op; `intermediates` only for composites. */
  run: (x: Inputs, attrs: Attrs) => { out: Tensor; intermediates?: Record<string, Tensor> };
  /** Looser than F32 only with the reason next to it. */
  tol?: Tolerance;
}

const op = (f: (x: Inputs, attrs: Attrs) => Tensor): Mapping => ({ run: (x, a) => ({ out: f(x, a) }) });
const unary = (f: (x: Tensor) => Tensor): Mapping => op((x) => f(x.x!));
const binary = (f: (a: Tensor, b: Tensor) => Tensor): Mapping => op((x) => f(x.a!, x.b!));
const reduction = (f: (x: Tensor, axis: number, keepDim: boolean) => Tensor): Mapping =>
  op((x, a) => f(x.x!, a.axis as number, a.keepdim as boolean));
/** softmax / logSoftmax work on the last axis only: the fixture must ask for that one. */
const lastAxis = (f: (x: Tensor) => Tensor): Mapping =>
  op((x, a) => {
    expect([-1, x.x!.rank - 1]).toContain(a.axis);
    return f(x.x!);
  });

const OPS: Record<string, Mapping> = {
  neg: unary(neg),
  exp: unary(exp),
  tanh: unary(tanh),
  // erf runs on Abramowitz–Stegun 7.1.26 (WGSL has no erf): |error| < 1.5e-7 absolute, inside F32.
  erf: unary(erf),
  silu: unary(silu),
  sigmoid: unary(sigmoid),
  log: unary(log),
  sqrt: unary(sqrt),
  rsqrt: unary(rsqrt),
  relu: unary(relu),
  abs: unary(abs),
  gelu: op((x, a) => {
    if (a.approximate === 'none') return gelu(x.x!);
    if (a.approximate === 'tanh') return geluTanh(x.x!);
    throw new Error(`gelu: unmapped approximate '${String(a.approximate)}'`);
  }),
  pow_scalar: op((x, a) => powScalar(x.x!, a.exponent as number)),
  add: binary(add),
  sub: binary(sub),
  mul: binary(mul),
  div: binary(div),
  pow: binary(pow),
  maximum: binary(maximum),
  minimum: binary(minimum),
  // cond arrives as a 0/1 f32 tensor: `where` treats nonzero as true.
  where: op((x) => where(x.cond!, x.a!, x.b!)),
  sum: reduction(sum),
  mean: reduction(mean),
  max: reduction(max),
  var: op((x, a) => variance(x.x!, a.axis as number, a.keepdim as boolean, a.correction as number)),
  softmax: lastAxis(softmax),
  log_softmax: lastAxis(logSoftmax),
  layer_norm: op((x, a) => {
    expect(a.axis).toBe(-1);
    return layerNorm(x.x!, x.weight!, x.bias!, a.eps as number);
  }),
  rms_norm: op((x, a) => {
    expect(a.axis).toBe(-1);
    return rmsNorm(x.x!, x.weight!, a.eps as number);
  }),
  matmul: op((x, a) => matmul(a.transpose_a ? transpose(x.a!) : x.a!, a.transpose_b ? transpose(x.b!) : x.b!)),
  embedding: op((x) => embedding(x.table!, x.ids!)),
  concat: op((x, a) => concat(Object.values(x), a.axis as number)),
  slice: op((x, a) => {
    const starts = a.starts as number[];
    const ends = a.ends as number[];
    return starts.reduce((y, s, axis) => slice(y, axis, s, ends[axis]!), x.x!);
  }),
  permute: op((x, a) => permute(x.x!, a.dims as number[])),
  rotary: op((x, a) => {
    expect(a.layout).toBe('rotate_half');
    return rotary(x.q!, x.cos!, x.sin!);
  }),
};

const COMPOSITES: Record<string, Mapping> = {
  attention_block: {
    run: (x, a) => {
      expect(a).toMatchObject({ causal: true, linear_weight_layout: '[out, in]' });
      const params = Object.fromEntries(ATTENTION_PARAMS.map((n) => [n, x[n]!])) as AttentionParams<Tensor>;
      const { out, ...intermediates } = attentionLayer(x.x!, params, { heads: a.num_heads as number, eps: a.eps as number });
      return { out, intermediates };
    },
  },
  swiglu_block: {
    run: (x, a) => {
      expect(a.linear_weight_layout).toBe('[out, in]');
      const norm = rmsNorm(x.x!, x.norm_weight!, a.eps as number);
      const gate = silu(linear(norm, x.gate_weight!));
      const up = linear(norm, x.up_weight!);
      const out = add(x.x!, linear(gatedProduct(gate, up), x.down_weight!));
      return { out, intermediates: { norm, gate, up } };
    },
  },
};

function upload(t: FixtureTensor): Tensor {
  if (t.dtype === 'int32') return Tensor.fromArray(t.data, t.shape, 'i32');
  // bool (0/1) and float inputs: exact f32 values.
  return Tensor.fromArray(t.data, t.shape);
}

let handled = 0;

async function check(c: FixtureCase, table: Record<string, Mapping>): Promise<void> {
  const mapping = table[c.name];
  if (!mapping) throw new Error(`ops.json case ${c.name}/${c.case} has no mapping to our ops`);
  const tol = mapping.tol ?? F32;
  const inputs: Inputs = {};
  for (const [name, t] of Object.entries(c.inputs)) {
    inputs[name] = upload(t).setRequiresGrad(name in c.grads);
  }
  const { out, intermediates = {} } = mapping.run(inputs, c.attrs);
  expect(out.shape).toEqual(c.output.shape);
  expectClose(await out.toArray(), c.output.data, tol, `${c.name}/${c.case} output`);
  for (const [name, expected] of Object.entries(c.intermediates ?? {})) {
    const t = intermediates[name];
    if (!t) throw new Error(`${c.name}/${c.case}: our block records no intermediate '${name}'`);
    expect(t.shape, name).toEqual(expected.shape);
    expectClose(await t.toArray(), expected.data, tol, `${c.name}/${c.case} intermediate ${name}`);
  }
  const seed = Tensor.fromArray(c.w.data, c.w.shape);
  backward(out, { seed });
  for (const [name, t] of Object.entries(inputs)) {
    const expected = c.grads[name];
    if (!expected) {
      expect(t.grad, `${name} is not differentiable`).toBeNull();
      continue;
    }
    expect(t.grad, `gradient of ${name}`).not.toBeNull();
    expect(t.grad!.shape).toEqual(expected.shape);
    expectClose(await t.grad!.toArray(), expected.data, tol, `${c.name}/${c.case} d/d${name}`);
  }
  for (const t of [...Object.values(inputs), ...Object.values(intermediates), out, seed]) t.dispose();
  handled++;
}

describe('ops.json: single ops', () => {
  for (const c of FILE.ops) it(`${c.name} ${c.case}`, () => check(c, OPS));
});

describe('ops.json: composites', () => {
  for (const c of FILE.composites) it(`${c.name} ${c.case}`, () => check(c, COMPOSITES));
});

// Last in the file: vitest runs a file's tests in order, so every case above has run by now.
describe('ops.json coverage', () => {
  it('maps every op name in the file to our API', () => {
    const unmapped = [...new Set(FILE.ops.map((c) => c.name))].filter((n) => !(n in OPS));
    const unmappedComposites = FILE.composites.map((c) => c.name).filter((n) => !(n in COMPOSITES));
    expect([...unmapped, ...unmappedComposites]).toEqual([]);
    expect(FILE.composites.map((c) => c.name).sort()).toEqual(['attention_block', 'swiglu_block']);
  });

  it('handled every case in the file (each passing case counts itself once)', () => {
    expect(handled, 'cases handled').toBe(FILE.ops.length + FILE.composites.length);
    expect(handled, 'the generator writes 59 op cases and 2 composites').toBeGreaterThanOrEqual(61);
  });
});

describe('models on a padded batch (attention_mask with zeros) match PyTorch', () => {
  // f32 on the GPU against float64 PyTorch, as in models.test.ts.
  const TOLERANCE: Tolerance = { rtol: 1e-4, atol: 1e-4 };
  const cases: [string, 'padded' | 'padded_left', string][] = [
    ['llama', 'padded', 'right padding'],
    ['llama', 'padded_left', 'left padding: padded queries are blocked everywhere and stay finite'],
    ['qwen2', 'padded', 'right padding'],
    ['gpt2', 'padded', 'right padding'],
    ['bert', 'padded', 'right padding, bidirectional'],
    ['mistral', 'padded', 'right padding inside a sliding window of 4'],
    ['mistral', 'padded_left', 'left padding with a sliding window of 4'],
    ['qwen3', 'padded', 'right padding (q/k RMSNorm, YaRN)'],
    ['qwen3', 'padded_left', 'left padding (q/k RMSNorm, YaRN)'],
    ['bloom', 'padded', "right padding (ALiBi from the mask's cumulative sum in transformers)"],
    ['bloom', 'padded_left', 'left padding: ALiBi shifted per row in transformers, the same softmax'],
  ];
  for (const [name, key, what] of cases) {
    it(`${name}: ${what}`, async () => {
      const ref = readReference(name)[key] as PaddedReference;
      expect(ref.attention_mask.flat()).toContain(0);
      expect(ref.attention_mask[0]!.length).toBe(ref.attention_mask[1]!.length);
      const model = await loadModel(modelDir(name));
      const input = { ids: ref.input_ids, attentionMask: ref.attention_mask, ...(ref.token_type_ids ? { tokenTypeIds: ref.token_type_ids } : {}) };
      const logits = noGrad(() => tidy(() => model.forward(input)));
      const values = await logits.toArray();
      expect(values.every(Number.isFinite)).toBe(true);
      expectClose(values, flatten(ref.logits), TOLERANCE, `${name} ${key} logits`);
      // The unpadded row alone gives the same logits: padding in one row leaves the other untouched.
      const single = noGrad(() => tidy(() => model.forward({ ids: [ref.input_ids[0]!] })));
      const row = values.length / 2;
      expectClose(await single.toArray(), Array.from(values.slice(0, row)), TOLERANCE, `${name} first row alone`);
      for (const t of [logits, single]) t.dispose();
      model.dispose();
    });
  }
});
