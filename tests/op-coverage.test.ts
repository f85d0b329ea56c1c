/**
 * Every op has a backward that is checked: one entry per name in `registeredOps()`, either
 * gradcheck cases on seeded random shapes (GPU gradient against central differences of the float64
 * reference, gradcheck's default rtol 2e-3, atol 2e-4) or, for ops with no gradient by design, a
 * check that their backward returns none. A newly registered op without an entry fails here.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { rng } from './helpers/close.js';
import { refElementwise, refExpand, refReduction, refReshape, refSlice, type Reduction } from './helpers/op-references.js';
import { gradcheck, type GradcheckCase, type GradcheckInput } from '../autograd/gradcheck.js';
import { contextOf } from '../autograd/op.js';
import {
  Tensor,
  applyElementwise,
  argmax,
  attentionContext,
  attentionScores,
  backward,
  clone,
  concat,
  contiguous,
  detach,
  embedding,
  expand,
  full,
  gatedProduct,
  gather,
  layerNorm,
  linear,
  logSoftmax,
  matmul,
  max,
  mean,
  min,
  noGrad,
  permute,
  registeredOps,
  reshape,
  rmsNorm,
  rotary,
  scatterAdd,
  slice,
  softmax,
  sum,
  topologicalNodes,
  transpose,
  variance,
} from '../autograd/index.js';
import type { ElementwiseOp } from '../kernels/elementwise.js';
import { refConcat, refScatterAdd, refTake } from '../kernels/reference/gather.js';
import { refLinear, refMatmul, refTransposeLast } from '../kernels/reference/matmul.js';
import { refLayerNorm, refRmsNorm } from '../kernels/reference/norm.js';
import { refRotary } from '../kernels/reference/rotary.js';
import { refLogSoftmax, refSoftmax } from '../kernels/reference/softmax.js';
import { refPermute, refTensor, type RefTensor } from '../kernels/reference/tensor.js';
import { normalizeAxis, numel } from '../kernels/shape.js';

beforeAll(async () => {
  await gpu();
});

type Rand = () => number;

/** Integer in [lo, hi]. */
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const shapeOf = (r: Rand, rank: number, lo = 1, hi = 4): number[] => Array.from({ length: rank }, () => int(r, lo, hi));
/** A shape that broadcasts to `shape`: some dims set to 1, maybe a leading dim dropped. */
function broadcastable(r: Rand, shape: readonly number[]): number[] {
  const out = shape.map((d) => (r() < 0.4 ? 1 : d));
  return shape.length > 1 && r() < 0.5 ? out.slice(1) : out;
}
const str = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Input value ranges. `away` draws |x| from [lo, hi] with a random sign: away from kinks and poles. */
type Range = { lo: number; hi: number } | { away: [number, number] };
const SYM: Range = { lo: -2, hi: 2 };
const POS: Range = { lo: 0.3, hi: 2 };
const AWAY: Range = { away: [0.2, 2] };

function input(r: Rand, shape: number[], range: Range = SYM): GradcheckInput {
  if ('lo' in range) return { shape, lo: range.lo, hi: range.hi };
  const [lo, hi] = range.away;
  const data = Array.from({ length: numel(shape) }, () => (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r()));
  return { shape, data };
}
const ids = (r: Rand, n: number, high: number): number[] => Array.from({ length: n }, () => int(r, 0, high - 1));

interface GradEntry {
  /** Gradcheck cases (the op named by the entry must appear in each case's graph). */
  cases: (r: Rand, keep: (t: Tensor) => Tensor) => GradcheckCase[];
}
interface NoGradEntry {
  /** Why the op has no gradient; `run` builds it on inputs that require grad. */
  noGradient: string;
  run: (r: Rand) => { inputs: Tensor[]; output: Tensor };
}
type Entry = GradEntry | NoGradEntry;

// ---- elementwise ---------------------------------------------------------------------------

function unary(name: ElementwiseOp, range: Range = SYM, scalars: number[] = []): GradEntry {
  return {
    cases: (r) => {
      const shape = shapeOf(r, int(r, 1, 3));
      return [{
        name: `${name} ${str(shape)}`,
        inputs: [input(r, shape, range)],
        gpu: ([x]) => applyElementwise(name, [x!], scalars),
        ref: ([x]) => refElementwise(name, [x!], scalars),
      }];
    },
  };
}

/** Both broadcasting directions: b broadcast against a, then a against b. */
function binary(name: ElementwiseOp, ra: Range = SYM, rb: Range = SYM, scalars: number[] = []): GradEntry {
  return {
    cases: (r) => {
      const full = shapeOf(r, 3);
      const small = broadcastable(r, full);
      return [[full, small], [small, full]].map(([sa, sb]) => ({
        name: `${name} ${str(sa!)} with ${str(sb!)}`,
        inputs: [input(r, sa!, ra), input(r, sb!, rb)],
        gpu: ([a, b]) => applyElementwise(name, [a!, b!], scalars),
        ref: ([a, b]) => refElementwise(name, [a!, b!], scalars),
      }));
    },
  };
}

function noGradUnary(name: ElementwiseOp, why: string): NoGradEntry {
  return {
    noGradient: why,
    run: (r) => {
      const x = Tensor.fromArray(Array.from({ length: 6 }, () => 4 * r() - 2), [2, 3]).setRequiresGrad();
      return { inputs: [x], output: applyElementwise(name, [x]) };
    },
  };
}

function comparison(name: ElementwiseOp): NoGradEntry {
  return {
    noGradient: 'a 0/1 comparison is piecewise constant',
    run: (r) => {
      const a = Tensor.fromArray(Array.from({ length: 6 }, () => Math.round(4 * r() - 2)), [2, 3]).setRequiresGrad();
      const b = Tensor.fromArray(Array.from({ length: 3 }, () => Math.round(4 * r() - 2)), [3]).setRequiresGrad();
      return { inputs: [a, b], output: applyElementwise(name, [a, b]) };
    },
  };
}

const GELU_GRAD_HELPER = 'a derivative kernel used inside backward passes (runs under noGrad)';

// ---- reductions ------------------------------------------------------------------------------

function reduction(name: Reduction, fn: (x: Tensor, axis: number | number[] | undefined, keepDim: boolean) => Tensor): GradEntry {
  return {
    cases: (r) => {
      const shape = shapeOf(r, 3, 2, 4);
      const axesChoices: (number | number[] | undefined)[] = [int(r, 0, 2), -1, [0, 2], undefined];
      return axesChoices.map((axis) => {
        const keepDim = r() < 0.5;
        const axes = axis === undefined ? [0, 1, 2] : (typeof axis === 'number' ? [axis] : axis).map((a) => normalizeAxis(name, a, 3));
        return {
          name: `${name} ${str(shape)} axis ${JSON.stringify(axis)} keepDim ${keepDim}`,
          inputs: [{ shape, lo: -2, hi: 2 }],
          gpu: ([x]) => fn(x!, axis, keepDim),
          ref: ([x]) => refReduction(name, x!, axes, keepDim),
        };
      });
    },
  };
}

// ---- the table -------------------------------------------------------------------------------

const TABLE: Record<string, Entry> = {
  // elementwise, unary
  copy: {
    cases: (r) => {
      const shape = shapeOf(r, 2, 2, 4);
      return [{ name: `copy of a transposed ${str(shape)}`, inputs: [{ shape }], gpu: ([x]) => applyElementwise('copy', [transpose(x!)]), ref: ([x]) => refPermute(x!, [1, 0]) }];
    },
  },
  neg: unary('neg'),
  exp: unary('exp'),
  log: unary('log', POS),
  sqrt: unary('sqrt', POS),
  rsqrt: unary('rsqrt', POS),
  tanh: unary('tanh'),
  erf: unary('erf'),
  geluErf: unary('geluErf', { lo: -3, hi: 3 }),
  geluTanh: unary('geluTanh', { lo: -3, hi: 3 }),
  silu: unary('silu', { lo: -4, hi: 4 }),
  sigmoid: unary('sigmoid', { lo: -4, hi: 4 }),
  relu: unary('relu', AWAY),
  abs: unary('abs', AWAY),
  sign: noGradUnary('sign', 'piecewise constant'),
  reciprocal: unary('reciprocal', AWAY),
  square: unary('square'),
  cos: unary('cos', { lo: -4, hi: 4 }),
  sin: unary('sin', { lo: -4, hi: 4 }),
  affine: unary('affine', SYM, [-1.5, 0.25]),
  powScalar: {
    cases: (r) => [...unary('powScalar', SYM, [3]).cases(r, (t) => t), ...unary('powScalar', POS, [2.5]).cases(r, (t) => t)],
  },
  geluErfGrad: noGradUnary('geluErfGrad', GELU_GRAD_HELPER),
  geluTanhGrad: noGradUnary('geluTanhGrad', GELU_GRAD_HELPER),
  siluGrad: noGradUnary('siluGrad', GELU_GRAD_HELPER),
  // elementwise, binary and ternary
  add: binary('add'),
  sub: binary('sub'),
  mul: binary('mul'),
  div: binary('div', SYM, AWAY),
  pow: binary('pow', { lo: 0.5, hi: 2 }, { lo: -1.5, hi: 1.5 }),
  maximum: binary('maximum'),
  minimum: binary('minimum'),
  eq: comparison('eq'),
  ne: comparison('ne'),
  lt: comparison('lt'),
  le: comparison('le'),
  gt: comparison('gt'),
  ge: comparison('ge'),
  stabilizedDiv: binary('stabilizedDiv', SYM, AWAY, [0.1]),
  where: {
    cases: (r) => {
      const shape = shapeOf(r, 3, 2, 4);
      const condShape = broadcastable(r, shape);
      const bShape = broadcastable(r, shape);
      const cond = Array.from({ length: numel(condShape) }, () => (r() < 0.5 ? 0 : 1));
      return [{
        name: `where cond ${str(condShape)}, a ${str(shape)}, b ${str(bShape)}`,
        inputs: [{ shape: condShape, data: cond, grad: false }, { shape }, { shape: bShape }],
        gpu: ([c, a, b]) => applyElementwise('where', [c!, a!, b!]),
        ref: ([c, a, b]) => refElementwise('where', [c!, a!, b!]),
      }];
    },
  },
  // reductions
  sum: reduction('sum', sum),
  mean: reduction('mean', mean),
  max: reduction('max', max),
  min: reduction('min', min),
  var: {
    cases: (r) => [
      ...reduction('var', (x, a, k) => variance(x, a, k)).cases(r, (t) => t),
      { name: 'var correction 1', inputs: [{ shape: [3, 4] }], gpu: ([x]) => variance(x!, 1, true, 1), ref: ([x]) => refReduction('var', x!, [1], true, 1) },
    ],
  },
  argmax: {
    noGradient: 'an i32 index is piecewise constant',
    run: (r) => {
      const x = Tensor.fromArray(Array.from({ length: 12 }, () => r()), [3, 4]).setRequiresGrad();
      return { inputs: [x], output: argmax(x, 1) };
    },
  },
  // views
  contiguous: {
    cases: (r) => {
      const shape = shapeOf(r, 3, 2, 4);
      return [
        { name: `clone ${str(shape)}`, inputs: [{ shape }], gpu: ([x]) => clone(x!), ref: ([x]) => x! },
        { name: `contiguous of a permuted ${str(shape)}`, inputs: [{ shape }], gpu: ([x]) => contiguous(permute(x!, [2, 0, 1])), ref: ([x]) => refPermute(x!, [2, 0, 1]) },
      ];
    },
  },
  reshape: {
    cases: (r) => {
      const [a, b, c] = shapeOf(r, 3, 2, 4) as [number, number, number];
      return [
        { name: `reshape [${a}, ${b}, ${c}] (a view)`, inputs: [{ shape: [a, b, c] }], gpu: ([x]) => reshape(x!, [a * b, c]), ref: ([x]) => refReshape(x!, [a * b, c]) },
        {
          name: `reshape of a transposed [${a}, ${b}, ${c}] (a copy)`,
          inputs: [{ shape: [a, b, c] }],
          gpu: ([x]) => reshape(transpose(x!, 0, 2), [-1]),
          ref: ([x]) => refReshape(refPermute(x!, [2, 1, 0]), [a * b * c]),
        },
      ];
    },
  },
  permute: {
    cases: (r) => {
      const shape = shapeOf(r, 4, 1, 3);
      const dims = [0, 1, 2, 3].sort(() => r() - 0.5);
      return [{ name: `permute ${str(shape)} by ${str(dims)}`, inputs: [{ shape }], gpu: ([x]) => permute(x!, dims), ref: ([x]) => refPermute(x!, dims) }];
    },
  },
  expand: {
    cases: (r) => {
      const target = shapeOf(r, 3, 2, 4);
      const shape = broadcastable(r, target);
      return [{ name: `expand ${str(shape)} to ${str(target)}`, inputs: [{ shape }], gpu: ([x]) => expand(x!, target), ref: ([x]) => refExpand(x!, target) }];
    },
  },
  slice: {
    cases: (r) => {
      const shape = shapeOf(r, 3, 3, 6);
      const axis = int(r, 0, 2);
      const start = int(r, 0, 1);
      return [1, 2].map((step) => ({
        name: `slice ${str(shape)} axis ${axis} from ${start} step ${step}`,
        inputs: [{ shape }],
        gpu: ([x]) => slice(x!, axis, start, shape[axis], step),
        ref: ([x]) => refSlice(x!, axis, start, shape[axis]!, step),
      }));
    },
  },
  detach: {
    noGradient: 'blocks the gradient by definition (a node, so reports see it)',
    run: (r) => {
      const x = Tensor.fromArray([r(), r(), r()]).setRequiresGrad();
      return { inputs: [x], output: detach(x) };
    },
  },
  // products
  matmul: {
    cases: (r) => {
      const [M, K, N] = shapeOf(r, 3, 2, 4);
      return [
        { name: 'matmul 2-D', inputs: [{ shape: [M!, K!] }, { shape: [K!, N!] }], gpu: ([a, b]) => matmul(a!, b!), ref: ([a, b]) => refMatmul(a!, b!) },
        {
          name: 'matmul, batch broadcast both ways, b transposed',
          inputs: [{ shape: [2, 1, M!, K!] }, { shape: [3, N!, K!] }],
          gpu: ([a, b]) => matmul(a!, transpose(b!)),
          ref: ([a, b]) => refMatmul(a!, refTransposeLast(b!)),
        },
        { name: 'matmul, rank-2 b against batched a', inputs: [{ shape: [2, M!, K!] }, { shape: [K!, N!] }], gpu: ([a, b]) => matmul(a!, b!), ref: ([a, b]) => refMatmul(a!, b!) },
      ];
    },
  },
  linear: {
    cases: (r) => {
      const [inF, outF] = shapeOf(r, 2, 2, 5);
      const x = [2, int(r, 1, 3), inF!];
      return [
        { name: 'linear with bias', inputs: [{ shape: x }, { shape: [outF!, inF!] }, { shape: [outF!] }], gpu: ([a, w, b]) => linear(a!, w!, b!), ref: ([a, w, b]) => refLinear(a!, w!, b!) },
        { name: 'linear without bias, 1-D x', inputs: [{ shape: [inF!] }, { shape: [outF!, inF!] }], gpu: ([a, w]) => linear(a!, w!), ref: ([a, w]) => refLinear(a!, w!) },
      ];
    },
  },
  attentionScores: {
    cases: (r) => {
      const [T, S, D] = shapeOf(r, 3, 2, 4) as [number, number, number];
      return [{
        name: `attentionScores q [2, 2, ${T}, ${D}], k [2, 1, ${S}, ${D}] (grouped)`,
        inputs: [{ shape: [2, 2, T, D] }, { shape: [2, 1, S, D] }],
        gpu: ([q, k]) => attentionScores(q!, k!, 0.5),
        ref: ([q, k]) => refMatmul(q!, refTransposeLast(k!), 0.5),
      }];
    },
  },
  attentionContext: {
    cases: (r) => {
      const [T, S, D] = shapeOf(r, 3, 2, 4) as [number, number, number];
      return [{
        name: `attentionContext p [2, 2, ${T}, ${S}], v [2, 1, ${S}, ${D}]`,
        inputs: [{ shape: [2, 2, T, S], lo: 0, hi: 1 }, { shape: [2, 1, S, D] }],
        gpu: ([p, v]) => attentionContext(p!, v!),
        ref: ([p, v]) => refMatmul(p!, v!),
      }];
    },
  },
  gatedProduct: binaryNamed('gatedProduct', gatedProduct, (a, b) => refElementwise('mul', [a, b])),
  // rows
  softmax: rows('softmax', softmax, refSoftmax),
  logSoftmax: rows('logSoftmax', logSoftmax, refLogSoftmax),
  layerNorm: {
    cases: (r) => {
      const shape = [...shapeOf(r, 2, 1, 3), int(r, 3, 8)];
      const n = shape[shape.length - 1]!;
      return [
        {
          name: `layerNorm ${str(shape)} with weight and bias`,
          inputs: [{ shape, lo: -2, hi: 3 }, { shape: [n], lo: 0.5, hi: 1.5 }, { shape: [n] }],
          gpu: ([x, w, b]) => layerNorm(x!, w!, b!, 1e-5),
          ref: ([x, w, b]) => refLayerNorm(x!, w!, b!, 1e-5),
        },
        { name: `layerNorm ${str(shape)} without affine`, inputs: [{ shape }], gpu: ([x]) => layerNorm(x!, null, null, 1e-3), ref: ([x]) => refLayerNorm(x!, null, null, 1e-3) },
      ];
    },
  },
  rmsNorm: {
    cases: (r) => {
      const shape = [...shapeOf(r, 2, 1, 3), int(r, 3, 8)];
      const n = shape[shape.length - 1]!;
      return [
        { name: `rmsNorm ${str(shape)} weighted`, inputs: [{ shape }, { shape: [n], lo: 0.5, hi: 1.5 }], gpu: ([x, w]) => rmsNorm(x!, w!, 1e-6), ref: ([x, w]) => refRmsNorm(x!, w!, 1e-6) },
        { name: `rmsNorm ${str(shape)} unweighted`, inputs: [{ shape }], gpu: ([x]) => rmsNorm(x!, null, 1e-6), ref: ([x]) => refRmsNorm(x!, null, 1e-6) },
      ];
    },
  },
  // indexing
  gather: {
    cases: (r, keep) => {
      const shape = shapeOf(r, 3, 2, 4);
      const axis = int(r, 0, 2);
      const indexShape = [2, 3];
      const index = ids(r, 6, shape[axis]!);
      return [{
        name: `gather ${str(shape)} axis ${axis}, index [2, 3]`,
        inputs: [{ shape }],
        gpu: ([x]) => gather(x!, axis, keep(Tensor.fromArray(index, indexShape, 'i32'))),
        ref: ([x]) => refTake(x!, axis, refTensor(indexShape, index)),
      }];
    },
  },
  embedding: {
    cases: (r, keep) => {
      const [V, D] = [int(r, 3, 6), int(r, 2, 4)];
      const tokens = ids(r, 8, V); // 8 ids from at most 6 rows: some repeat, so their rows accumulate
      return [{
        name: `embedding [${V}, ${D}] with 8 ids`,
        inputs: [{ shape: [V, D] }],
        gpu: ([table]) => embedding(table!, keep(Tensor.fromArray(tokens, [2, 4], 'i32'))),
        ref: ([table]) => refTake(table!, 0, refTensor([2, 4], tokens)),
      }];
    },
  },
  scatterAdd: {
    cases: (r, keep) => {
      const shape = [int(r, 3, 5), int(r, 2, 4)];
      return [0, 1].map((axis) => {
        const index = ids(r, 5, shape[axis]!);
        const valuesShape = axis === 0 ? [5, shape[1]!] : [shape[0]!, 5];
        return {
          name: `scatterAdd into ${str(shape)} along axis ${axis}`,
          inputs: [{ shape: valuesShape }],
          gpu: ([values]) => scatterAdd(shape, keep(Tensor.fromArray(index, [5], 'i32')), values!, axis),
          ref: ([values]) => refScatterAdd(shape, axis, refTensor([5], index), values!),
        };
      });
    },
  },
  concat: {
    cases: (r) => {
      const base = shapeOf(r, 3, 1, 3);
      const axis = int(r, 0, 2);
      const shapes = [0, 1, 2].map(() => base.map((d, i) => (i === axis ? int(r, 1, 3) : d)));
      return [{
        name: `concat ${shapes.map(str).join(', ')} along ${axis}`,
        inputs: shapes.map((shape) => ({ shape })),
        gpu: (xs) => concat(xs, axis),
        ref: (xs) => refConcat(xs, axis),
      }];
    },
  },
  rotary: {
    cases: (r) => {
      const T = int(r, 2, 4);
      return [4, 6].map((D) => {
        const R = 4; // D = 6: partial rotary, the last 2 features pass through
        return {
          name: `rotary x [1, 2, ${T}, ${D}], tables [${T}, ${R}]`,
          inputs: [{ shape: [1, 2, T, D] }, { shape: [T, R] }, { shape: [T, R] }],
          gpu: ([x, cos, sin]) => rotary(x!, cos!, sin!),
          ref: ([x, cos, sin]) => refRotary(x!, cos!, sin!),
        };
      });
    },
  },
};

function binaryNamed(name: string, fn: (a: Tensor, b: Tensor) => Tensor, ref: (a: RefTensor, b: RefTensor) => RefTensor): GradEntry {
  return {
    cases: (r) => {
      const shape = shapeOf(r, 3);
      const small = broadcastable(r, shape);
      return [{ name: `${name} ${str(shape)} with ${str(small)}`, inputs: [{ shape }, { shape: small }], gpu: ([a, b]) => fn(a!, b!), ref: ([a, b]) => ref(a!, b!) }];
    },
  };
}

function rows(name: string, fn: (x: Tensor) => Tensor, ref: (x: RefTensor) => RefTensor): GradEntry {
  return {
    cases: (r) => {
      // Rows of at least 3: a row of one element has a constant output and no gradient to check.
      const shape = [...shapeOf(r, int(r, 0, 2), 1, 4), int(r, 3, 6)];
      return [{ name: `${name} ${str(shape)}`, inputs: [{ shape, lo: -3, hi: 3 }], gpu: ([x]) => fn(x!), ref: ([x]) => ref(x!) }];
    },
  };
}

/** A stable seed per op name, so adding an entry does not change the shapes of the others. */
function seedOf(name: string): number {
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

async function checkGradient(name: string, entry: GradEntry): Promise<void> {
  const r = rng(seedOf(name));
  const constants: Tensor[] = [];
  const cases = entry.cases(r, (t) => (constants.push(t), t));
  expect(cases.length, `${name}: at least one case`).toBeGreaterThan(0);
  for (const c of cases) {
    let recorded: string[] = [];
    const report = await gradcheck({
      ...c,
      seed: seedOf(c.name),
      gpu: (xs) => {
        const y = c.gpu(xs);
        recorded = topologicalNodes(y).map((n) => n.op);
        return y;
      },
    });
    expect(recorded, `${c.name}: the graph contains the op '${name}'`).toContain(name);
    expect(report.forwardError, `${c.name}: forward error`).toBeLessThan(1e-4);
    expect(report.ok, `${c.name}: ${JSON.stringify(report)}`).toBe(true);
  }
  for (const t of constants) t.dispose();
}

async function checkNoGradient(name: string, entry: NoGradEntry): Promise<void> {
  const { inputs, output } = entry.run(rng(seedOf(name)));
  if (output.dtype !== 'f32') {
    // Integer results (indices) are kept out of the graph altogether.
    expect(output.node, `${name}: an ${output.dtype} result is not a graph node`).toBeNull();
    expect(output.requiresGrad).toBe(false);
    for (const t of [...inputs, output]) t.dispose();
    return;
  }
  const node = output.node;
  expect(node?.op, `${name} is recorded as a node`).toBe(name);
  // Its backward, called directly, returns no gradient for any input...
  const g = full(output.shape, 1);
  const direct = noGrad(() => node!.backward(contextOf(node!), g));
  expect(direct.length).toBeLessThanOrEqual(inputs.length);
  expect(direct.every((t) => t === null), `${name} backward returned a gradient`).toBe(true);
  // ...so a backward pass through it leaves every input without one.
  backward(output, { seed: g });
  for (const x of inputs) expect(x.grad, `${name}: input gradient`).toBeNull();
  for (const t of [...inputs, output, g]) t.dispose();
}

describe('every registered op has a checked backward', () => {
  it('the table has exactly one entry per registered op', () => {
    const ops = registeredOps();
    expect(ops.length).toBeGreaterThan(60);
    const missing = ops.filter((n) => !(n in TABLE));
    const stale = Object.keys(TABLE).filter((n) => !ops.includes(n));
    expect({ missing, stale }).toEqual({ missing: [], stale: [] });
  });

  for (const name of registeredOps()) {
    const entry = TABLE[name];
    const label = entry && 'noGradient' in entry ? `${name}: no gradient (${entry.noGradient})` : `${name}: gradcheck`;
    it(label, async () => {
      if (!entry) throw new Error(`op '${name}' is registered but has no entry in the op-coverage table`);
      if ('noGradient' in entry) await checkNoGradient(name, entry);
      else await checkGradient(name, entry);
    });
  }
});
