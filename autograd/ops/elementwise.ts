/**
 * Elementwise ops: the kernel records live in kernels/elementwise.ts; here each gets its backward.
 * The table is typed over every kernel op name, so an op without a gradient does not compile.
 */
import { elementwise, elementwiseWithColumnSums, type ElementwiseOp } from '../../kernels/elementwise.js';
import { defineOp, type OpFn } from '../op.js';
import type { BackwardContext } from '../graph.js';
import type { OpRole } from '../opTypes.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';
import { scaledProduct } from './scaledProduct.js';
import { sumToShape } from './sumToShape.js';
import { full } from './creation.js';
import { reshape } from './view.js';
import { rowsView } from './rowsView.js';

/** The attributes of every elementwise op: its scalar parameters (affine's scale and shift, …). */
export interface Scalars {
  /** The op's scalar parameters in kernel order (empty for most ops). */
  scalars: number[];
}

declare module '../opTypes.js' {
  interface OpAttrs extends Record<ElementwiseOp, Scalars> {}
}

type Grads = (Tensor | null)[];
type ElementwiseBackward = (ctx: BackwardContext<Scalars>, g: Tensor) => Grads;

const run = (op: ElementwiseOp, inputs: readonly Tensor[], scalars: number[] = []): Tensor => wrap(elementwise(op, inputs, scalars));
/** Shorthands used inside backward functions (which run without recording). */
const k = {
  mul: (a: Tensor, b: Tensor) => run('mul', [a, b]),
  div: (a: Tensor, b: Tensor) => run('div', [a, b]),
  neg: (a: Tensor) => run('neg', [a]),
  scale: (a: Tensor, s: number) => run('affine', [a], [s, 0]),
  unary: (op: ElementwiseOp, a: Tensor) => run(op, [a]),
};

/** Gradient of each input of a binary op, reduced over the dims it was broadcast along. */
const toInputs = (ctx: BackwardContext<Scalars>, grads: Grads): Grads =>
  grads.map((g, i) => (g && ctx.needsGrad[i] ? sumToShape(g, ctx.inputs[i]!.shape) : null));

/** a ⊙ b's input gradients for the incoming gradient factor · g. */
function productGrads(ctx: BackwardContext<Scalars>, g: Tensor, factor: number): Grads {
  const [a, b] = ctx.inputs as [Tensor, Tensor];
  return toInputs(ctx, [ctx.needsGrad[0] ? scaledProduct(g, b, factor) : null, ctx.needsGrad[1] ? scaledProduct(g, a, factor) : null]);
}

const zeroGrad: ElementwiseBackward = (ctx) => ctx.inputs.map(() => null);
const unaryChain = (derivative: (x: Tensor, y: Tensor, s: number[]) => Tensor): ElementwiseBackward => (ctx, g) => [
  k.mul(g, derivative(ctx.inputs[0]!, ctx.output, ctx.attrs.scalars)),
];

const BACKWARD: { [Op in ElementwiseOp]: ElementwiseBackward } = {
  copy: (_ctx, g) => [g],
  neg: (_ctx, g) => [k.neg(g)],
  exp: unaryChain((_x, y) => y),
  log: (ctx, g) => [k.div(g, ctx.inputs[0]!)],
  sqrt: (ctx, g) => [k.div(k.scale(g, 0.5), ctx.output)],
  rsqrt: unaryChain((_x, y) => k.scale(run('powScalar', [y], [3]), -0.5)),
  tanh: unaryChain((_x, y) => run('affine', [k.mul(y, y)], [-1, 1])),
  erf: unaryChain((x) => k.scale(k.unary('exp', k.neg(k.mul(x, x))), 2 / Math.sqrt(Math.PI))),
  geluErf: unaryChain((x) => k.unary('geluErfGrad', x)),
  geluTanh: unaryChain((x) => k.unary('geluTanhGrad', x)),
  silu: unaryChain((x) => k.unary('siluGrad', x)),
  sigmoid: unaryChain((_x, y) => k.mul(y, run('affine', [y], [-1, 1]))),
  relu: unaryChain((x) => run('gt', [x, scalarZero(x)])),
  abs: unaryChain((x) => k.unary('sign', x)),
  sign: zeroGrad,
  reciprocal: unaryChain((_x, y) => k.neg(k.mul(y, y))),
  square: unaryChain((x) => k.scale(x, 2)),
  cos: unaryChain((x) => k.neg(k.unary('sin', x))),
  sin: unaryChain((x) => k.unary('cos', x)),
  affine: (ctx, g) => [k.scale(g, ctx.attrs.scalars[0]!)],
  powScalar: unaryChain((x, _y, [e]) => k.scale(run('powScalar', [x], [e! - 1]), e!)),
  geluErfGrad: zeroGrad,
  geluTanhGrad: zeroGrad,
  siluGrad: zeroGrad,
  add: (ctx, g) => toInputs(ctx, [g, g]),
  sub: (ctx, g) => toInputs(ctx, [g, ctx.needsGrad[1] ? k.neg(g) : null]),
  mul: (ctx, g) => productGrads(ctx, g, 1),
  div: (ctx, g) => {
    const b = ctx.inputs[1]!;
    const ga = ctx.needsGrad[0] ? k.div(g, b) : null;
    const gb = ctx.needsGrad[1] ? k.neg(k.div(k.mul(g, ctx.output), b)) : null;
    return toInputs(ctx, [ga, gb]);
  },
  pow: (ctx, g) => {
    const [a, b] = ctx.inputs as [Tensor, Tensor];
    const y = ctx.output;
    // d a^b / da = b a^(b-1) = b y / a;  d/db = y ln a
    const ga = ctx.needsGrad[0] ? k.mul(g, k.mul(b, run('pow', [a, run('affine', [b], [1, -1])]))) : null;
    const gb = ctx.needsGrad[1] ? k.mul(g, k.mul(y, k.unary('log', a))) : null;
    return toInputs(ctx, [ga, gb]);
  },
  maximum: (ctx, g) => extremeBinary(ctx, g, 'ge'),
  minimum: (ctx, g) => extremeBinary(ctx, g, 'le'),
  eq: zeroGrad,
  ne: zeroGrad,
  lt: zeroGrad,
  le: zeroGrad,
  gt: zeroGrad,
  ge: zeroGrad,
  stabilizedDiv: (ctx, g) => {
    // a / (b + eps·sign b): d/da = 1/(b + eps·sign b); the denominator is treated as constant for b.
    const [a, b] = ctx.inputs as [Tensor, Tensor];
    const ga = ctx.needsGrad[0] ? k.mul(g, run('stabilizedDiv', [scalarOne(a), b], ctx.attrs.scalars)) : null;
    const gb = ctx.needsGrad[1] ? k.neg(k.mul(g, k.div(ctx.output, run('add', [b, scalarEps(b, ctx.attrs.scalars[0]!)])))) : null;
    return toInputs(ctx, [ga, gb]);
  },
  where: (ctx, g) => {
    const c = ctx.inputs[0]!;
    const zero = scalarZero(g);
    return toInputs(ctx, [null, ctx.needsGrad[1] ? run('where', [c, g, zero]) : null, ctx.needsGrad[2] ? run('where', [c, zero, g]) : null]);
  },
};

/** Gradient split between equal operands like PyTorch: to a where a ≥ b (max), else to b. */
function extremeBinary(ctx: BackwardContext<Scalars>, g: Tensor, cmp: 'ge' | 'le'): Grads {
  const [a, b] = ctx.inputs as [Tensor, Tensor];
  const pick = run(cmp, [a, b]);
  const zero = scalarZero(g);
  return toInputs(ctx, [ctx.needsGrad[0] ? run('where', [pick, g, zero]) : null, ctx.needsGrad[1] ? run('where', [pick, zero, g]) : null]);
}

const scalarZero = (_like: Tensor): Tensor => full([], 0);
const scalarOne = (_like: Tensor): Tensor => full([], 1);
function scalarEps(b: Tensor, eps: number): Tensor {
  // eps·sign(b) with sign(0) = +1, elementwise.
  return run('affine', [run('ge', [b, scalarZero(b)])], [2 * eps, -eps]);
}

/**
 * What each elementwise op is to an explanation method. `activation` (f(0) = 0 nonlinearities)
 * gets the identity rule in the LRP methods; add one here and it is covered.
 */
const ROLE: { [Op in ElementwiseOp]: OpRole } = {
  copy: 'structural',
  neg: 'sum',
  exp: 'nonlinear',
  log: 'nonlinear',
  sqrt: 'nonlinear',
  rsqrt: 'nonlinear',
  tanh: 'activation',
  erf: 'nonlinear',
  geluErf: 'activation',
  geluTanh: 'activation',
  silu: 'activation',
  sigmoid: 'nonlinear',
  relu: 'activation',
  abs: 'nonlinear',
  sign: 'structural',
  reciprocal: 'nonlinear',
  square: 'nonlinear',
  cos: 'nonlinear',
  sin: 'nonlinear',
  affine: 'sum',
  powScalar: 'nonlinear',
  geluErfGrad: 'structural',
  geluTanhGrad: 'structural',
  siluGrad: 'structural',
  add: 'sum',
  sub: 'sum',
  mul: 'product',
  div: 'nonlinear',
  pow: 'nonlinear',
  maximum: 'nonlinear',
  minimum: 'nonlinear',
  eq: 'structural',
  ne: 'structural',
  lt: 'structural',
  le: 'structural',
  gt: 'structural',
  ge: 'structural',
  stabilizedDiv: 'nonlinear',
  where: 'structural',
};

/**
 * Backwards that fold a factor on the incoming gradient into their own kernels: the uniform rule
 * halves a product's gradient without an `affine` of its own. (g·s)·b and g·b·s are the same
 * numbers for s = ½.
 */
const BACKWARD_SCALED: { [Op in ElementwiseOp]?: (ctx: BackwardContext<Scalars>, g: Tensor, factor: number) => Grads } = {
  mul: (ctx, g, factor) => productGrads(ctx, g, factor),
};

const ops = new Map<ElementwiseOp, OpFn<Scalars>>();
for (const name of Object.keys(BACKWARD) as ElementwiseOp[]) {
  const scaled = BACKWARD_SCALED[name];
  ops.set(
    name,
    defineOp({
      name,
      role: ROLE[name],
      forward: (inputs, { scalars }) => run(name, inputs, scalars),
      backward: BACKWARD[name] as (ctx: BackwardContext<Scalars>, g: Tensor) => Grads,
      ...(scaled ? { backwardScaled: scaled } : {}),
    }),
  );
}

/** Applies the elementwise op `name` (with NumPy broadcasting for binary and ternary ops). */
export function applyElementwise(name: ElementwiseOp, inputs: readonly Tensor[], scalars: number[] = []): Tensor {
  return ops.get(name)!(inputs, { scalars });
}

const unary = (name: ElementwiseOp) => (x: Tensor): Tensor => applyElementwise(name, [x]);
const binary = (name: ElementwiseOp) => (a: Tensor, b: Tensor): Tensor => applyElementwise(name, [a, b]);

/** −x. */
export const neg = unary('neg');
/** eˣ. */
export const exp = unary('exp');
/** Natural logarithm. */
export const log = unary('log');
/** √x. */
export const sqrt = unary('sqrt');
/** 1/√x. */
export const rsqrt = unary('rsqrt');
/** tanh x. */
export const tanh = unary('tanh');
/** The error function. */
export const erf = unary('erf');
/** GELU in its exact form, x·Φ(x) with the erf (BERT, ViT, HF's "gelu"). */
export const gelu = unary('geluErf');
/** GELU's tanh approximation (GPT-2, HF's "gelu_new" / "gelu_pytorch_tanh"). */
export const geluTanh = unary('geluTanh');
/** SiLU (swish): x·σ(x) (Llama's MLP gate). */
export const silu = unary('silu');
/** σ(x) = 1 / (1 + e⁻ˣ). */
export const sigmoid = unary('sigmoid');
/** max(x, 0). */
export const relu = unary('relu');
/** |x|. */
export const abs = unary('abs');
/** −1, 0 or 1 (gradient 0). */
export const sign = unary('sign');
/** 1/x. */
export const reciprocal = unary('reciprocal');
/** x². */
export const square = unary('square');
/** cos x (radians). */
export const cos = unary('cos');
/** sin x (radians). */
export const sin = unary('sin');
/** a + b, broadcast. */
export const add = binary('add');
/** a − b, broadcast. */
export const sub = binary('sub');
/** a · b elementwise, broadcast. */
export const mul = binary('mul');
/** a / b, broadcast. */
export const div = binary('div');
/** aᵇ elementwise, broadcast. */
export const pow = binary('pow');
/** max(a, b) elementwise, broadcast; the gradient of a tie goes to a. */
export const maximum = binary('maximum');
/** min(a, b) elementwise, broadcast; the gradient of a tie goes to a. */
export const minimum = binary('minimum');
/** 1 where a = b, else 0 (f32; gradient 0). */
export const eq = binary('eq');
/** 1 where a ≠ b, else 0 (f32; gradient 0). */
export const ne = binary('ne');
/** 1 where a < b, else 0 (f32; gradient 0). */
export const lt = binary('lt');
/** 1 where a ≤ b, else 0 (f32; gradient 0). */
export const le = binary('le');
/** 1 where a > b, else 0 (f32; gradient 0). */
export const gt = binary('gt');
/** 1 where a ≥ b, else 0 (f32; gradient 0). */
export const ge = binary('ge');

/** x · s (+ shift). */
export function scale(x: Tensor, s: number, shift = 0): Tensor {
  return applyElementwise('affine', [x], [s, shift]);
}
/** x + s. */
export function addScalar(x: Tensor, s: number): Tensor {
  return applyElementwise('affine', [x], [1, s]);
}
/** xᵉ for a constant exponent. */
export function powScalar(x: Tensor, e: number): Tensor {
  return applyElementwise('powScalar', [x], [e]);
}
/** a / (b + eps·sign b), sign(0) = +1: the epsilon rule's stabilised division. */
export function stabilizedDiv(a: Tensor, b: Tensor, eps: number): Tensor {
  return applyElementwise('stabilizedDiv', [a, b], [eps]);
}
/** cond ? a : b, elementwise, with broadcasting (cond is nonzero = true). */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  return applyElementwise('where', [cond, a, b]);
}

/**
 * g ⊙ z ⊘ (z + ε·sign z), sign(0) = +1, in one dispatch and not recorded: the ε-rule's modified
 * gradient, for backward rules (which run without recording).
 */
export function epsilonScaled(g: Tensor, z: Tensor, eps: number): Tensor {
  return wrap(elementwise('epsilonScale', [g, z], [eps]));
}

/**
 * (g ⊙ y) ⊘ (x + t·sign x), sign(0) = +1, in one dispatch and not recorded: the identity rule's
 * gradient, for backward rules.
 */
export function identityRatio(g: Tensor, y: Tensor, x: Tensor, t: number): Tensor {
  return wrap(elementwise('identityRatio', [g, y, x], [t]));
}

/**
 * `epsilonScaled` over g and z [..., out], with the column sums of the result (Σ over every row:
 * a linear layer's bias gradient) from the same dispatch. Not recorded (for backward rules).
 */
export function epsilonScaledWithColumnSums(g: Tensor, z: Tensor, eps: number): { scaled: Tensor; columnSums: Tensor } {
  const [gv, zv] = [rowsView(g), rowsView(z)];
  if (!gv || !zv || g.shape.length !== z.shape.length || g.shape.some((d, i) => d !== z.shape[i])) {
    const scaled = epsilonScaled(g, z, eps);
    return { scaled, columnSums: sumToShape(scaled, [z.shape[z.rank - 1] ?? 1]) };
  }
  const { values, sums } = elementwiseWithColumnSums('epsilonScale', [gv, zv], [eps]);
  const flat = wrap(values);
  const scaled = reshape(flat, z.shape);
  flat.dispose();
  return { scaled, columnSums: wrap(sums) };
}
