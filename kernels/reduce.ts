/**
 * Reductions over any set of axes (sum, mean, max, min, argmax, var), one template. Each
 * invocation owns one output element and walks the reduced elements through their strides, so
 * any view can be reduced without a copy.
 */
import { runtime } from './runtime.js';
import { coalesce, numel, sameShape, shapeToString } from './shape.js';
import { allocate, f32Bits, type DType, type GpuView, type KernelOutput } from './view.js';
import { flatEntry, header, NAN_HELPER, paramF32, stridedOffsets, workgroupsFor } from './wgsl/common.js';

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min' | 'argmax' | 'var';

interface ReduceDef {
  init: string;
  /** Statement folding value `v` (at reduced index `j`) into the accumulator(s). */
  step: string;
  /** Expression for the result. */
  result: string;
  outDtype: DType;
}

/** `acc` accumulates; var uses Welford (mean `acc`, sum of squares `m2`) for stability. */
const REDUCE: Record<ReduceOp, ReduceDef> = {
  sum: { init: 'var acc = 0.0;', step: 'acc += v;', result: 'acc', outDtype: 'f32' },
  mean: { init: 'var acc = 0.0;', step: 'acc += v;', result: 'acc / f32(p[1])', outDtype: 'f32' },
  // max/min/argmax start from the first element (WGSL has no infinity literal, and seeding with
  // ±F32_MAX would turn a row of ±∞ into ±F32_MAX).
  // NaN propagates (as in NumPy/PyTorch); `is_nan` tests bits because `v != v` may be folded away.
  max: { init: 'var acc = 0.0; var nan = false;', step: 'if (is_nan(v)) { nan = true; } acc = select(max(acc, v), v, j == 0u);', result: 'select(acc, nan_f32(), nan)', outDtype: 'f32' },
  min: { init: 'var acc = 0.0; var nan = false;', step: 'if (is_nan(v)) { nan = true; } acc = select(min(acc, v), v, j == 0u);', result: 'select(acc, nan_f32(), nan)', outDtype: 'f32' },
  // the first maximum; a NaN counts as the maximum (PyTorch's convention)
  argmax: {
    init: 'var acc = 0.0; var best = 0u;',
    step: 'if (j == 0u || (!is_nan(acc) && (v > acc || is_nan(v)))) { acc = v; best = j; }',
    result: 'i32(best)',
    outDtype: 'i32',
  },
  // Welford on values shifted by the first reduced element: without the shift the running mean
  // drifts by ulps of the data's offset (1% error on var at offset 1e5 with a spread of 1).
  var: {
    init: 'var acc = 0.0; var m2 = 0.0; let pivot = f32(x[base]);',
    step: 'let u = v - pivot; let d = u - acc; acc += d / f32(j + 1u); m2 += d * (u - acc);',
    result: 'm2 / max(f32(p[1]) - correction, 0.0)',
    outDtype: 'f32',
  },
};

const IS_NAN = `fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }`;

/**
 * Parameter layout: nOut, nRed, correction (f32), then per operand (x, and y for a sum of
 * products) its offset, outShape (ro), redShape (rr), per operand its outStrides (ro), per operand
 * its redStrides (rr).
 */
function reduceWgsl(op: ReduceOp, ro: number, rr: number, inType: DType, product = false): string {
  const def = REDUCE[op];
  const operands = product ? 2 : 1;
  const outShapeAt = 3 + operands;
  const redShapeAt = outShapeAt + ro;
  const outStridesAt = redShapeAt + rr;
  const redStridesAt = outStridesAt + operands * ro;
  const names = product ? ['base', 'baseY'] : ['base'];
  const body = [
    '  if (i >= p[0]) { return; }',
    `  let correction = ${paramF32(2)};`,
    stridedOffsets({ flat: 'i', rank: ro, names, shapeAt: outShapeAt, offsetsAt: 3, stridesAt: outStridesAt }),
    `  ${def.init}`,
    '  for (var j = 0u; j < p[1]; j++) {',
    stridedOffsets({ flat: 'j', rank: rr, names: product ? ['o', 'oY'] : ['o'], shapeAt: redShapeAt, offsetsAt: null, stridesAt: redStridesAt, tag: 'r' }),
    product ? '    let v = f32(x[base + o]) * f32(y[baseY + oY]);' : '    let v = f32(x[base + o]);',
    `    ${def.step}`,
    '  }',
    `  out[i] = ${def.result};`,
  ].join('\n');
  return [
    header([
      { name: 'x', access: 'read', type: inType },
      ...(product ? [{ name: 'y', access: 'read' as const, type: inType }] : []),
      { name: 'out', access: 'read_write', type: def.outDtype },
    ]),
    NAN_HELPER,
    IS_NAN,
    flatEntry(body),
  ].join('\n\n');
}

/** Output shape of reducing `shape` over `axes`. */
export function reducedShape(shape: readonly number[], axes: readonly number[], keepDim: boolean): number[] {
  const set = new Set(axes);
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!set.has(i)) out.push(d);
    else if (keepDim) out.push(1);
  });
  return out;
}

/**
 * Reduces `x` over `axes` (already normalised, unique). `correction` is var's divisor offset
 * (0: population variance, 1: unbiased).
 */
export function reduce(op: ReduceOp, x: GpuView, axes: readonly number[], keepDim: boolean, correction = 0): KernelOutput {
  const def = REDUCE[op];
  const axisSet = new Set(axes);
  const outDims: number[] = [];
  const outStrides: number[] = [];
  const redDims: number[] = [];
  const redStrides: number[] = [];
  x.shape.forEach((d, i) => {
    if (axisSet.has(i)) {
      redDims.push(d);
      redStrides.push(x.strides[i]!);
    } else {
      outDims.push(d);
      outStrides.push(x.strides[i]!);
    }
  });
  const shape = reducedShape(x.shape, axes, keepDim);
  const nRed = numel(redDims);
  if (nRed === 0 && (op === 'max' || op === 'min' || op === 'argmax')) {
    throw new Error(`${op}: cannot reduce an empty dimension (shape ${shapeToString(x.shape)}, axes [${axes.join(', ')}])`);
  }
  const out = allocate(op, shape, def.outDtype);
  const nOut = numel(outDims);
  if (nOut === 0) return { buffer: out, shape, dtype: def.outDtype };
  const kept = coalesce(outDims, [outStrides]);
  const red = coalesce(redDims, [redStrides]);
  const ro = kept.shape.length;
  const rr = red.shape.length;
  const params = new Uint32Array(4 + 2 * ro + 2 * rr);
  params.set([nOut, nRed, f32Bits(correction), x.offset]);
  params.set(kept.shape, 4);
  params.set(red.shape, 4 + ro);
  params.set(kept.strides[0]!, 4 + ro + rr);
  params.set(red.strides[0]!, 4 + 2 * ro + rr);
  runtime().dispatch({
    key: `reduce/${op}/o${ro}/r${rr}/${x.dtype}`,
    wgsl: () => reduceWgsl(op, ro, rr, x.dtype),
    bindings: [x.buffer, out],
    params,
    workgroups: workgroupsFor(nOut),
  });
  return { buffer: out, shape, dtype: def.outDtype };
}

/**
 * Σ x ⊙ y over `axes` (x and y of one shape, any strides) in one pass: the relevance x ⊙ grad of a
 * positional tensor summed per position (lrp/positions.ts), where a `mul` and a `sum` took two
 * dispatches and a tensor in between. f32 inputs; the products add in the order `reduce` adds.
 */
export function reduceProduct(x: GpuView, y: GpuView, axes: readonly number[], keepDim: boolean): KernelOutput {
  if (!sameShape(x.shape, y.shape) || x.dtype !== 'f32' || y.dtype !== 'f32') {
    throw new Error(`reduceProduct: needs two f32 tensors of one shape, got ${x.dtype}${shapeToString(x.shape)} and ${y.dtype}${shapeToString(y.shape)}`);
  }
  const axisSet = new Set(axes);
  const dims = { out: [] as number[], red: [] as number[] };
  const strides = { out: [[], []] as number[][], red: [[], []] as number[][] };
  x.shape.forEach((d, i) => {
    const side = axisSet.has(i) ? 'red' : 'out';
    dims[side].push(d);
    strides[side][0]!.push(x.strides[i]!);
    strides[side][1]!.push(y.strides[i]!);
  });
  const shape = reducedShape(x.shape, axes, keepDim);
  const out = allocate('reduceProduct', shape, 'f32');
  const nOut = numel(dims.out);
  if (nOut === 0) return { buffer: out, shape, dtype: 'f32' };
  const kept = coalesce(dims.out, strides.out);
  const red = coalesce(dims.red, strides.red);
  const [ro, rr] = [kept.shape.length, red.shape.length];
  const params = new Uint32Array(5 + 3 * ro + 3 * rr);
  params.set([nOut, numel(dims.red), 0, x.offset, y.offset, ...kept.shape, ...red.shape, ...kept.strides[0]!, ...kept.strides[1]!, ...red.strides[0]!, ...red.strides[1]!]);
  runtime().dispatch({
    key: `reduce/sum/o${ro}/r${rr}/f32/product`,
    wgsl: () => reduceWgsl('sum', ro, rr, 'f32', true),
    bindings: [x.buffer, y.buffer, out],
    params,
    workgroups: workgroupsFor(nOut),
  });
  return { buffer: out, shape, dtype: 'f32' };
}
