/**
 * Elementwise kernels: one declarative record per op (its WGSL expression and its TS reference),
 * one template that generates every variant (arity, rank after coalescing, dtypes), one launcher.
 * Inputs may be any strided view, so broadcasting and transposed views need no copy.
 */
import { runtime } from './runtime.js';
import { broadcastShapes, broadcastStrides, coalesce, contiguousStrides, numel, shapeToString } from './shape.js';
import { allocate, f32Bits, isHalf, type DType, type GpuView, type KernelOutput } from './view.js';
import { flatEntry, header, NAN_HELPER, paramF32, stridedOffsets, workgroupsFor } from './wgsl/common.js';
import { halfDecoders, loadElement, storageType } from './wgsl/half.js';
import { erf } from './reference/math.js';
import type { ScratchTexture } from './texturePool.js';
import { templateLaunch } from './wgsl/specKey.js';

/** WGSL helper functions some expressions call. */
const HELPERS = {
  erf: `fn erf_approx(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): WGSL has no erf builtin.
  let s = sign(x);
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return s * y;
}`,
  tanhSafe: `fn tanh_safe(x: f32) -> f32 {
  // Clamped: some drivers return NaN from tanh for |x| > ~88.
  return tanh(clamp(x, -20.0, 20.0));
}`,
} as const;
type Helper = keyof typeof HELPERS;

export interface ElementwiseDef {
  arity: 1 | 2 | 3;
  /** WGSL expression over inputs a, b, c and scalars s0, s1 (f32). */
  wgsl: string;
  /** Reference over float64, used only by tests. */
  ref: (args: number[], scalars: number[]) => number;
  helpers?: Helper[];
  /** Number of f32 scalar parameters. */
  scalars?: number;
  /** Output keeps the first input's dtype (copies); otherwise the output is f32. */
  keepsDtype?: boolean;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_C = 0.044715;
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export const ELEMENTWISE = {
  // strided copy (materialises views); keeps i32 as i32
  copy: { arity: 1, wgsl: 'a', keepsDtype: true, ref: ([a]) => a! },
  // unary
  neg: { arity: 1, wgsl: '-a', ref: ([a]) => -a! },
  exp: { arity: 1, wgsl: 'exp(a)', ref: ([a]) => Math.exp(a!) },
  log: { arity: 1, wgsl: 'log(a)', ref: ([a]) => Math.log(a!) },
  sqrt: { arity: 1, wgsl: 'sqrt(a)', ref: ([a]) => Math.sqrt(a!) },
  rsqrt: { arity: 1, wgsl: 'inverseSqrt(a)', ref: ([a]) => 1 / Math.sqrt(a!) },
  tanh: { arity: 1, wgsl: 'select(tanh_safe(a), a, is_nan(a))', helpers: ['tanhSafe'], ref: ([a]) => Math.tanh(a!) },
  erf: { arity: 1, wgsl: 'erf_approx(a)', helpers: ['erf'], ref: ([a]) => erf(a!) },
  geluErf: { arity: 1, wgsl: '0.5 * a * (1.0 + erf_approx(a * 0.70710678118654752))', helpers: ['erf'], ref: ([a]) => 0.5 * a! * (1 + erf(a! / Math.SQRT2)) },
  geluTanh: {
    arity: 1,
    wgsl: `0.5 * a * (1.0 + tanh_safe(${SQRT_2_OVER_PI} * (a + ${GELU_TANH_C} * a * a * a)))`,
    helpers: ['tanhSafe'],
    ref: ([a]) => 0.5 * a! * (1 + Math.tanh(SQRT_2_OVER_PI * (a! + GELU_TANH_C * a! ** 3))),
  },
  silu: { arity: 1, wgsl: 'a / (1.0 + exp(-a))', ref: ([a]) => a! * sigmoid(a!) },
  sigmoid: { arity: 1, wgsl: '1.0 / (1.0 + exp(-a))', ref: ([a]) => sigmoid(a!) },
  relu: { arity: 1, wgsl: 'select(max(a, 0.0), a, is_nan(a))', ref: ([a]) => Math.max(a!, 0) },
  abs: { arity: 1, wgsl: 'abs(a)', ref: ([a]) => Math.abs(a!) },
  sign: { arity: 1, wgsl: 'select(sign(a), a, is_nan(a))', ref: ([a]) => Math.sign(a!) },
  reciprocal: { arity: 1, wgsl: '1.0 / a', ref: ([a]) => 1 / a! },
  square: { arity: 1, wgsl: 'a * a', ref: ([a]) => a! * a! },
  cos: { arity: 1, wgsl: 'cos(a)', ref: ([a]) => Math.cos(a!) },
  sin: { arity: 1, wgsl: 'sin(a)', ref: ([a]) => Math.sin(a!) },
  // unary with scalars
  affine: { arity: 1, scalars: 2, wgsl: 'a * s0 + s1', ref: ([a], [s0, s1]) => a! * s0! + s1! },
  powScalar: { arity: 1, scalars: 1, wgsl: 'pow_signed(a, s0)', ref: ([a], [s0]) => a! ** s0! },
  // derivatives used by backward passes (fused so a backward is one dispatch)
  geluErfGrad: {
    arity: 1,
    wgsl: '0.5 * (1.0 + erf_approx(a * 0.70710678118654752)) + a * 0.3989422804014327 * exp(-0.5 * a * a)',
    helpers: ['erf'],
    ref: ([a]) => 0.5 * (1 + erf(a! / Math.SQRT2)) + (a! * Math.exp(-0.5 * a! * a!)) / Math.sqrt(2 * Math.PI),
  },
  geluTanhGrad: {
    arity: 1,
    wgsl: `gelu_tanh_grad(a)`,
    ref: ([a]) => {
      const x = a!;
      const u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x ** 3);
      const t = Math.tanh(u);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_C * x * x);
    },
  },
  siluGrad: { arity: 1, wgsl: 'silu_grad(a)', ref: ([a]) => sigmoid(a!) * (1 + a! * (1 - sigmoid(a!))) },
  // binary (NumPy broadcasting)
  add: { arity: 2, wgsl: 'a + b', ref: ([a, b]) => a! + b! },
  sub: { arity: 2, wgsl: 'a - b', ref: ([a, b]) => a! - b! },
  mul: { arity: 2, wgsl: 'a * b', ref: ([a, b]) => a! * b! },
  div: { arity: 2, wgsl: 'a / b', ref: ([a, b]) => a! / b! },
  pow: { arity: 2, wgsl: 'pow_signed(a, b)', ref: ([a, b]) => a! ** b! },
  maximum: { arity: 2, wgsl: 'select(select(max(a, b), b, is_nan(b)), a, is_nan(a))', ref: ([a, b]) => Math.max(a!, b!) },
  minimum: { arity: 2, wgsl: 'select(select(min(a, b), b, is_nan(b)), a, is_nan(a))', ref: ([a, b]) => Math.min(a!, b!) },
  eq: { arity: 2, wgsl: 'select(0.0, 1.0, a == b)', ref: ([a, b]) => Number(a === b) },
  ne: { arity: 2, wgsl: 'select(0.0, 1.0, a != b || is_nan(a) || is_nan(b))', ref: ([a, b]) => Number(a !== b) },
  lt: { arity: 2, wgsl: 'select(0.0, 1.0, a < b)', ref: ([a, b]) => Number(a! < b!) },
  le: { arity: 2, wgsl: 'select(0.0, 1.0, a <= b)', ref: ([a, b]) => Number(a! <= b!) },
  gt: { arity: 2, wgsl: 'select(0.0, 1.0, a > b)', ref: ([a, b]) => Number(a! > b!) },
  ge: { arity: 2, wgsl: 'select(0.0, 1.0, a >= b)', ref: ([a, b]) => Number(a! >= b!) },
  /** z / (z + eps·sign(z)), sign(0) taken as +1: the epsilon rule's stabilised ratio. */
  stabilizedDiv: {
    arity: 2,
    scalars: 1,
    wgsl: 'a / (b + s0 * select(-1.0, 1.0, b >= 0.0))',
    ref: ([a, b], [s0]) => a! / (b! + s0! * (b! >= 0 ? 1 : -1)),
  },
  // ternary
  where: { arity: 3, wgsl: 'select(c, b, a != 0.0 || is_nan(a))', ref: ([a, b, c]) => (a !== 0 ? b! : c!) },
} as const satisfies Record<string, ElementwiseDef>;

export type ElementwiseOp = keyof typeof ELEMENTWISE;

/**
 * Chains that LRP rules run in every backward, fused into one dispatch each. They are kernels,
 * not ops (nothing records them, so they need no backward): the rules call them through
 * `elementwise` like any record above, and each has its reference beside its WGSL.
 */
export const FUSED_ELEMENTWISE = {
  /** g ⊙ z ⊘ (z + ε·sign z), sign(0) = +1: the ε-rule's modified gradient (mul after stabilizedDiv). */
  epsilonScale: {
    arity: 2,
    scalars: 1,
    wgsl: 'a * (b / (b + s0 * select(-1.0, 1.0, b >= 0.0)))',
    ref: ([a, b], [s0]) => a! * (b! / (b! + s0! * (b! >= 0 ? 1 : -1))),
  },
  /** a ⊙ b · s: a product's input gradient with a factor folded in (the uniform rule's ½: mul after affine). */
  mulScaled: { arity: 2, scalars: 1, wgsl: 'a * b * s0', ref: ([a, b], [s0]) => a! * b! * s0! },
  /** (g ⊙ y) ⊘ (x + t·sign x), sign(0) = +1: the identity rule's gradient (stabilizedDiv after mul). */
  identityRatio: {
    arity: 3,
    scalars: 1,
    wgsl: '(a * b) / (c + s0 * select(-1.0, 1.0, c >= 0.0))',
    ref: ([a, b, c], [s0]) => (a! * b!) / (c! + s0! * (c! >= 0 ? 1 : -1)),
  },
} as const satisfies Record<string, ElementwiseDef>;

/** A fused backward kernel's name. */
export type FusedElementwise = keyof typeof FUSED_ELEMENTWISE;

/** Every elementwise kernel: the ops' records and the fused backward chains. */
export type ElementwiseKernel = ElementwiseOp | FusedElementwise;

const KERNELS: Record<ElementwiseKernel, ElementwiseDef> = { ...ELEMENTWISE, ...FUSED_ELEMENTWISE };

/**
 * Helpers appended to every elementwise shader that needs them by name. NaN semantics follow
 * IEEE and the references (NaN propagates through max/min/relu/sign, NaN != x, a NaN condition
 * is true); `is_nan` tests bits because lavapipe folds `a != a` and NaN compares away.
 */
const EXTRA_FUNCTIONS: Record<string, string> = {
  is_nan: `fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }`,
  // like nan_f32: WGSL rejects infinity in constant expressions
  inf_f32: `var<private> INF_BITS: u32 = 0x7f800000u;
fn inf_f32() -> f32 { return bitcast<f32>(INF_BITS); }`,
  pow_signed: `fn pow_signed(x: f32, y: f32) -> f32 {
  // WGSL pow (exp2(y log2 x)) is undefined for x < 0, x^0 and NaN; keep IEEE/NumPy's meaning:
  // x^0 = 1 for every x, NaN otherwise propagates, negative bases need an integral exponent.
  if (y == 0.0) { return 1.0; }
  if (is_nan(x) || is_nan(y)) { return nan_f32(); }
  // 0^y: +0 for y > 0, +inf for y < 0 (lavapipe's exp2(y log2 0) gave 0 for y = -inf)
  if (x == 0.0) { return select(0.0, inf_f32(), y < 0.0); }
  if (x >= 0.0) { return pow(x, y); }
  let r = pow(-x, y);
  if (y == round(y) && (i32(y) & 1) == 1) { return -r; }
  if (y == round(y)) { return r; }
  // (-inf)^y for non-integral y is +inf or +0, like +inf^y
  if ((bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u) { return r; }
  return nan_f32();
}`,
  gelu_tanh_grad: `fn gelu_tanh_grad(x: f32) -> f32 {
  let k = ${SQRT_2_OVER_PI};
  let t = tanh_safe(k * (x + ${GELU_TANH_C} * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + ${3 * GELU_TANH_C} * x * x);
}`,
  silu_grad: `fn silu_grad(x: f32) -> f32 {
  let s = 1.0 / (1.0 + exp(-x));
  return s * (1.0 + x * (1.0 - s));
}`,
};

const INPUT_NAMES = ['a', 'b', 'c'] as const;

/** The result's dtype: f32, or the first input's for copies (16-bit storage is copied widened: no kernel writes it). */
function outputDtype(def: ElementwiseDef, first: DType): DType {
  return def.keepsDtype && !isHalf(first) ? first : 'f32';
}

/**
 * Ops another kernel may apply to its own result as it stores it (matmul's `then`): one f32
 * input `a`, no scalars, so the fused value is the op's own expression.
 */
export const STORE_ACTIVATIONS = ['geluErf', 'geluTanh', 'silu', 'relu', 'tanh', 'sigmoid'] as const;
/** One of `STORE_ACTIVATIONS`. */
export type StoreActivation = (typeof STORE_ACTIVATIONS)[number];

/**
 * The WGSL of an elementwise op for another kernel to inline: the expression over `a` (and `b`)
 * and the helper functions it calls (to be put at module scope once).
 */
export function elementwiseCode(op: ElementwiseOp): { expression: string; support: string[] } {
  const def = KERNELS[op];
  return { expression: def.wgsl, support: supportCode(def) };
}

/** The helper functions an expression needs (by name, and those their code names in turn). */
function supportCode(def: ElementwiseDef): string[] {
  const helperNames = new Set<string>(def.helpers ?? []);
  const needed = new Map<string, string>();
  const collect = (text: string): void => {
    for (const [name, code] of Object.entries(EXTRA_FUNCTIONS)) {
      if (!needed.has(name) && text.includes(name)) {
        needed.set(name, code);
        collect(code);
      }
    }
  };
  collect(def.wgsl);
  const functions = [...needed.values()];
  if (functions.some((code) => code.includes('tanh_safe'))) helperNames.add('tanhSafe');
  if (functions.some((code) => code.includes('nan_f32'))) functions.push(NAN_HELPER);
  return [...[...helperNames].map((h) => HELPERS[h as Helper]), ...functions];
}

/**
 * Parameter layout: n, then scalars, then offsets (output, then inputs), shape (rank), strides
 * (output, then inputs; rank words each).
 *
 * `quads`: every operand is f32 and contiguous from an offset that is a multiple of 4, so each
 * invocation loads one vec4 per input and stores one vec4: a quarter of the loads and stores,
 * each of which lavapipe runs lane by lane with a bounds check. The op's expression is then a
 * function over f32 applied to each component (WGSL's comparisons and the helpers take no
 * vector-scalar mix), and n and the offsets count vec4s; there is no shape.
 */
function elementwiseWgsl(op: ElementwiseKernel, rank: number, inDtypes: readonly DType[], quads = false): string {
  const def = KERNELS[op];
  const nScalars = def.scalars ?? 0;
  const arity = def.arity;
  const offsetsAt = 1 + nScalars;
  const shapeAt = offsetsAt + arity + 1;
  const stridesAt = shapeAt + rank;
  const outType = outputDtype(def, inDtypes[0]!);
  const names = INPUT_NAMES.slice(0, arity);
  const scalars = Array.from({ length: nScalars }, (_, k) => `  let s${k} = ${paramF32(1 + k)};`);
  if (quads) {
    const args = [...names.map((n) => `${n}: f32`), ...scalars.map((_, k) => `s${k}: f32`)].join(', ');
    const component = (c: string): string => `value(${[...names.map((n) => `q${n}.${c}`), ...scalars.map((_, k) => `s${k}`)].join(', ')})`;
    const body = [
      '  if (i >= p[0]) { return; }',
      ...names.map((n, k) => `  let q${n} = in_${n}[p[${offsetsAt + 1 + k}u] + i];`),
      ...scalars,
      `  out[p[${offsetsAt}u] + i] = vec4<f32>(${['x', 'y', 'z', 'w'].map(component).join(', ')});`,
    ].join('\n');
    return [
      header([...names.map((n) => ({ name: `in_${n}`, access: 'read' as const, type: 'vec4<f32>' })), { name: 'out', access: 'read_write', type: 'vec4<f32>' }]),
      ...supportCode(def),
      `fn value(${args}) -> f32 {\n  return ${def.wgsl};\n}`,
      flatEntry(body),
    ].join('\n\n');
  }
  // 16-bit inputs are widened to f32 as they load (so `copy` of a 16-bit view is its widening).
  const loads = names.map((n, k) => {
    const value = loadElement(inDtypes[k]!, `in_${n}`, `o${n}`);
    return def.keepsDtype ? `  let ${n} = ${value};` : `  let ${n} = f32(${value});`;
  });
  const body = [
    '  if (i >= p[0]) { return; }',
    stridedOffsets({ flat: 'i', rank, names: ['oout', ...names.map((n) => `o${n}`)], shapeAt, offsetsAt, stridesAt }),
    ...loads,
    ...scalars,
    `  out[oout] = ${def.wgsl};`,
  ].join('\n');
  return [
    header([
      ...names.map((n, k) => ({ name: `in_${n}`, access: 'read' as const, type: storageType(inDtypes[k]!) })),
      { name: 'out', access: 'read_write', type: outType },
    ]),
    ...halfDecoders(inDtypes),
    ...supportCode(def),
    flatEntry(body),
  ].join('\n\n');
}

/**
 * Runs an elementwise op over views with NumPy broadcasting. The result is a new contiguous
 * tensor of the broadcast shape, or is written into the view `into` (which must have that shape
 * and not overlap the inputs).
 */
export function elementwise(
  op: ElementwiseKernel,
  inputs: readonly GpuView[],
  scalars: readonly number[] = [],
  into?: GpuView,
): KernelOutput {
  const def = KERNELS[op];
  if (inputs.length !== def.arity) throw new Error(`${op}: expects ${def.arity} input(s), got ${inputs.length}`);
  if (scalars.length !== (def.scalars ?? 0)) throw new Error(`${op}: expects ${def.scalars ?? 0} scalar(s), got ${scalars.length}`);
  const shape = broadcastShapes(op, ...inputs.map((v) => v.shape));
  const outDtype = outputDtype(def, inputs[0]!.dtype);
  if (into && (into.dtype !== outDtype || into.shape.length !== shape.length || into.shape.some((d, i) => d !== shape[i]))) {
    throw new Error(`${op}: destination ${into.dtype}${shapeToString(into.shape)} does not match the result ${outDtype}${shapeToString(shape)}`);
  }
  const out = into ? into.buffer : allocate(op, shape, outDtype);
  const n = numel(shape);
  if (n === 0) return { buffer: out, shape, dtype: outDtype };
  const merged = coalesce(shape, [
    into ? [...into.strides] : contiguousStrides(shape),
    ...inputs.map((v) => broadcastStrides(v.shape, v.strides, shape)),
  ]);
  const rank = merged.shape.length;
  const dtypes = inputs.map((v) => v.dtype);
  const offsets = [into ? into.offset : 0, ...inputs.map((v) => v.offset)];
  // Every operand contiguous (one dim of stride 1 after merging), f32, and starting on a vec4.
  const quads =
    outDtype === 'f32' && dtypes.every((d) => d === 'f32') && n % 4 === 0 && rank === 1 && merged.strides.every((s) => s[0] === 1) && offsets.every((o) => o % 4 === 0);
  const params = quads ? new Uint32Array(2 + scalars.length + def.arity) : new Uint32Array(2 + scalars.length + def.arity + rank + (def.arity + 1) * rank);
  let w = 0;
  params[w++] = quads ? n / 4 : n;
  for (const s of scalars) params[w++] = f32Bits(s);
  for (const o of offsets) params[w++] = quads ? o / 4 : o;
  if (!quads) {
    for (const d of merged.shape) params[w++] = d;
    for (const s of merged.strides) for (const x of s) params[w++] = x;
  }
  runtime().dispatch({
    key: quads ? `elementwise/${op}/v4` : `elementwise/${op}/r${rank}/${dtypes.join(',')}`,
    wgsl: () => elementwiseWgsl(op, rank, dtypes, quads),
    bindings: [...inputs.map((v) => v.buffer), out],
    params,
    workgroups: workgroupsFor(quads ? n / 4 : n),
  });
  return { buffer: out, shape, dtype: outDtype };
}

/**
 * Where a column-sum kernel writes its [rows, cols] values: a buffer (row-major), a packed texture,
 * or a buffer column by column ([cols, rows] row-major: the packed texture's bytes, for a copy).
 */
type ColumnSink = 'buffer' | 'texture' | 'columns';

/**
 * The template of the column-sum kernels: the op, where the values go, and whether each column's
 * Σ_rows in0 ⊙ in1 (the op's first two inputs) goes to a `dots` buffer as well ('yes'/'no').
 */
interface ColumnSumsSpec {
  readonly [field: string]: string;
  op: ElementwiseKernel;
  sink: ColumnSink;
  inputDots: 'yes' | 'no';
}

/** Rows summed in sequence before their sum joins the column's total (see the input dots). */
const DOT_BLOCK_ROWS = 64;

/**
 * One invocation per column j walks the rows in order and sums as it goes (the order the reduction
 * kernel uses, so the sums are reproducible and equal for both sinks). The 'texture' sink stores
 * four rows at a time as texel (r/4, j), zero past the last row: `packIntoTexture`'s layout for the
 * transposed view [cols, rows].
 */
function columnSumsWgsl({ op, sink, inputDots }: ColumnSumsSpec): string {
  const def = KERNELS[op];
  const arity = def.arity;
  const nScalars = def.scalars ?? 0;
  const dots = inputDots === 'yes';
  // Parameter layout: rows, cols, scalars, then per input its offset and two strides, then the dots' offset.
  const at = (k: number, w: number): string => `p[${2 + nScalars + 3 * k + w}u]`;
  const loads = (r: string, indent: string): string[] => INPUT_NAMES.slice(0, arity).map((n, k) => `${indent}let ${n} = in_${n}[${at(k, 0)} + (${r}) * ${at(k, 1)} + j * ${at(k, 2)}];`);
  // The input dot in two levels, blocks of DOT_BLOCK_ROWS rows and their sums: its rounding grows
  // with the block and the block count, not the row count (the ledger takes differences of such totals).
  const dot = (r: string, indent: string): string[] =>
    dots ? [`${indent}block += a * b;`, `${indent}if (((${r}) % ${DOT_BLOCK_ROWS}u) == ${DOT_BLOCK_ROWS - 1}u) { dot += block; block = 0.0; }`] : [];
  const walk =
    sink !== 'texture'
      ? ['  for (var r = 0u; r < p[0]; r++) {', ...loads('r', '    '), `    let v = ${def.wgsl};`, `    out[${sink === 'buffer' ? 'r * p[1] + j' : 'j * p[0] + r'}] = v;`, '    acc += v;', ...dot('r', '    '), '  }']
      : [
          '  for (var r0 = 0u; r0 < p[0]; r0 += 4u) {',
          '    var t = vec4<f32>(0.0);',
          ...[0, 1, 2, 3].flatMap((q) => [
            `    if (r0 + ${q}u < p[0]) {`,
            ...loads(`r0 + ${q}u`, '      '),
            `      let v = ${def.wgsl};`,
            `      t[${q}] = v;`,
            '      acc += v;',
            ...dot(`r0 + ${q}u`, '      '),
            '    }',
          ]),
          '    textureStore(out, vec2<u32>(r0 / 4u, j), 0, t);',
          '  }',
        ];
  const body = [
    '  let j = i;',
    '  if (j >= p[1]) { return; }',
    ...Array.from({ length: nScalars }, (_, k) => `  let s${k} = ${paramF32(2 + k)};`),
    '  var acc = 0.0;',
    ...(dots ? ['  var dot = 0.0;', '  var block = 0.0;'] : []),
    ...walk,
    '  sums[j] = acc;',
    ...(dots ? [`  dots[p[${2 + nScalars + 3 * arity}u] + j] = dot + block;`] : []),
  ].join('\n');
  return [
    header([
      ...INPUT_NAMES.slice(0, arity).map((n) => ({ name: `in_${n}`, access: 'read' as const, type: 'f32' })),
      sink === 'texture' ? { name: 'out', access: 'read_write', type: 'vec4<f32>', texture: true } : { name: 'out', access: 'read_write', type: 'f32' },
      { name: 'sums', access: 'read_write', type: 'f32' },
      ...(dots ? [{ name: 'dots', access: 'read_write' as const, type: 'f32' }] : []),
    ]),
    ...supportCode(def),
    flatEntry(body),
  ].join('\n\n');
}

/** Checks a column-sum kernel's inputs and returns [rows, cols] and its parameter block. */
function columnSumsParams(op: ElementwiseKernel, inputs: readonly GpuView[], scalars: readonly number[]): { rows: number; cols: number; params: Uint32Array } {
  const def = KERNELS[op];
  if (inputs.length !== def.arity) throw new Error(`${op}: expects ${def.arity} input(s), got ${inputs.length}`);
  if (scalars.length !== (def.scalars ?? 0)) throw new Error(`${op}: expects ${def.scalars ?? 0} scalar(s), got ${scalars.length}`);
  const [rows, cols] = inputs[0]!.shape as [number, number];
  // All inputs f32, so a kernel that keeps its input's dtype (`copy`) writes f32 like the rest.
  if (inputs.some((v) => v.shape.length !== 2 || v.shape[0] !== rows || v.shape[1] !== cols || v.dtype !== 'f32')) {
    throw new Error(`${op} with column sums: expects f32 inputs of one 2-D shape, got ${inputs.map((v) => v.dtype + shapeToString(v.shape)).join(', ')}`);
  }
  const nScalars = scalars.length;
  const params = new Uint32Array(2 + nScalars + 3 * def.arity);
  params.set([rows, cols, ...scalars.map(f32Bits)]);
  inputs.forEach((v, k) => params.set([v.offset, v.strides[0]!, v.strides[1]!], 2 + nScalars + 3 * k));
  return { rows, cols, params };
}

/**
 * An elementwise kernel over [rows, cols] operands that also sums each column of its result: one
 * dispatch for what was the kernel and a reduction over rows (a linear layer's bias gradient is
 * the column sum of the gradient the ε-rule rescales). Each invocation owns one column and walks
 * the rows in order, summing as the reduction kernel does. Inputs are 2-D f32 views of one shape
 * (any strides); both results are new and contiguous.
 */
export function elementwiseWithColumnSums(op: ElementwiseKernel, inputs: readonly GpuView[], scalars: readonly number[] = []): { values: KernelOutput; sums: KernelOutput } {
  const { rows, cols, params } = columnSumsParams(op, inputs, scalars);
  const values = allocate(op, [rows, cols], 'f32');
  const sums = allocate(op, [cols], 'f32');
  if (cols > 0) {
    runtime().dispatch({
      ...templateLaunch('elementwise-colsum', { op, sink: 'buffer', inputDots: 'no' } satisfies ColumnSumsSpec, columnSumsWgsl),
      bindings: [...inputs.map((v) => v.buffer), values, sums],
      params,
      workgroups: workgroupsFor(cols),
    });
  }
  return { values: { buffer: values, shape: [rows, cols], dtype: 'f32' }, sums: { buffer: sums, shape: [cols], dtype: 'f32' } };
}

/** Options of `elementwiseColumnsIntoTexture`. */
export interface ColumnsIntoTextureOptions {
  /**
   * false: store the texels from the kernel even where a buffer copy could fill the texture
   * (tests compare the two ways); default: copy where the rows make whole 256-byte copy rows.
   */
  copy?: boolean;
  /**
   * Where the kernel also writes, for each column j, Σ_rows inputs[0] ⊙ inputs[1] (at `offset + j`
   * of `buffer`, f32): a relevance total read from the values the kernel loads anyway (the ε-rule's
   * g and z give the layer's output relevance). Needs an op of at least two inputs.
   */
  inputDots?: { buffer: GPUBuffer; offset: number };
}

/**
 * `elementwiseWithColumnSums` whose values go straight into the texture a packed matmul reads
 * instead of a buffer: texel (x, j) = values[4x … 4x+3][j], zero past the last row, one layer
 * (`packIntoTexture`'s layout for the transposed view [cols, rows], so the values and sums are
 * those `elementwiseWithColumnSums` gives, bit for bit). The ε-rule's rescaled gradient s only
 * feeds the product s·W, which packs sᵀ for Cᵀ = Wᵀ·sᵀ: this way it is not stored row-major and
 * packed by a second kernel. Where one column's rows make whole 256-byte copy rows (rows a
 * multiple of 64), the kernel writes s column by column into a scratch buffer (the texture's
 * bytes) and a buffer-to-texture copy fills the texture: on lavapipe every texel store is a call,
 * and the copy is cheaper. The caller releases the texture to `runtime().textures` once the
 * kernels that read it are recorded.
 */
export function elementwiseColumnsIntoTexture(
  op: ElementwiseKernel,
  inputs: readonly GpuView[],
  scalars: readonly number[] = [],
  options: ColumnsIntoTextureOptions = {},
): { texture: ScratchTexture; sums: KernelOutput } {
  const { rows, cols, params: base } = columnSumsParams(op, inputs, scalars);
  if (rows === 0 || cols === 0) throw new Error(`${op} into a texture: needs a non-empty [rows, cols], got ${shapeToString([rows, cols])}`);
  const dots = options.inputDots ?? null;
  if (dots && KERNELS[op].arity < 2) throw new Error(`${op} into a texture: input dots need two inputs`);
  const params = dots ? Uint32Array.from([...base, dots.offset]) : base;
  const rt = runtime();
  const texture = rt.textures.acquire(Math.ceil(rows / 4), cols, 1);
  const sums = allocate(op, [cols], 'f32');
  // A texture row is one column's rows: where that is a whole number of 256-byte copy rows, the
  // kernel stores plain floats column by column and a buffer copy fills the texture. lavapipe
  // runs each texel store as a call, which made the stores most of the kernel's time.
  const byCopy = (rows * 4) % 256 === 0 && options.copy !== false;
  const staged = byCopy ? allocate(op, [cols, rows], 'f32') : null;
  rt.dispatch({
    ...templateLaunch('elementwise-colsum', { op, sink: byCopy ? 'columns' : 'texture', inputDots: dots ? 'yes' : 'no' } satisfies ColumnSumsSpec, columnSumsWgsl),
    bindings: [...inputs.map((v) => v.buffer), staged ?? { textureView: texture.view }, sums, ...(dots ? [dots.buffer] : [])],
    params,
    workgroups: workgroupsFor(cols),
  });
  if (staged) {
    rt.copyToTexture(staged, rows * 4, texture);
    // Later commands may reuse the buffer at once: they run after the copy.
    rt.pool.release(staged);
  }
  return { texture, sums: { buffer: sums, shape: [cols], dtype: 'f32' } };
}
