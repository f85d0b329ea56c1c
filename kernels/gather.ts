/**
 * Indexing kernels: `take` (gather slices along one axis by an i32 index tensor, NumPy's `take`;
 * an embedding lookup is `take` on axis 0) and its adjoint `scatterAdd`.
 *
 * Indices are validated by the caller on the CPU (see `checkIds` in autograd/ops/gather.ts); the
 * kernels clamp them into range so that a bad index can never read or write out of bounds.
 *
 * scatterAdd is deterministic and uses no atomics: one invocation per (outer, index position,
 * inner) element, and only the FIRST position holding a given index writes, after summing every
 * position with that index in ascending order. Cost is O(K) per element for K indices, fine for
 * token sequences; no write conflicts, so results are bit-reproducible.
 */
import { runtime } from './runtime.js';
import { coalesce, contiguousStrides, numel, shapeToString, type Shape } from './shape.js';
import { allocate, isContiguous, isHalf, type DType, type GpuView, type KernelOutput } from './view.js';
import { elementwise } from './elementwise.js';
import { fill } from './fill.js';
import { flatEntry, header, stridedOffsets, workgroupsFor } from './wgsl/common.js';
import { templateLaunch } from './wgsl/specKey.js';
import { halfDecoder, loadElement, storageType } from './wgsl/half.js';

/** Output shape of `take(x, axis, index)`: x's shape with dim `axis` replaced by index's shape. */
export function takeShape(xShape: Shape, axis: number, indexShape: Shape): number[] {
  return [...xShape.slice(0, axis), ...indexShape, ...xShape.slice(axis + 1)];
}

function checkIndex(op: string, index: GpuView): void {
  if (index.dtype !== 'i32') throw new Error(`${op}: the index must be i32, got ${index.dtype}${shapeToString(index.shape)}`);
}

/** WGSL: clamps an i32 index into [0, size - 1] (size ≥ 1). */
const clampIndex = (expr: string, size: string): string => `u32(clamp(${expr}, 0, i32(${size}) - 1))`;

/** A lookup in 16-bit storage (an embedding table) yields f32 rows; other dtypes are kept. */
function takeOutput(dtype: DType): DType {
  return isHalf(dtype) ? 'f32' : dtype;
}

/** Parameter layout: n, axisSize, axisStride, xOffset, indexOffset, shape (rank), x strides, index strides. */
function takeWgsl(rank: number, dtype: DType): string {
  const body = [
    '  if (i >= p[0]) { return; }',
    stridedOffsets({ flat: 'i', rank, names: ['ox', 'oi'], shapeAt: 5, offsetsAt: 3, stridesAt: 5 + rank }),
    `  let row = ${clampIndex('index[oi]', 'p[1]')};`,
    `  out[i] = ${loadElement(dtype, 'x', 'ox + row * p[2]')};`,
  ].join('\n');
  return [
    header([
      { name: 'x', access: 'read', type: storageType(dtype) },
      { name: 'index', access: 'read', type: 'i32' },
      { name: 'out', access: 'read_write', type: takeOutput(dtype) },
    ]),
    ...(isHalf(dtype) ? [halfDecoder(dtype)] : []),
    flatEntry(body),
  ].join('\n\n');
}

/**
 * NumPy `take(x, index, axis)`: out[a..., k..., b...] = x[a..., index[k...], b...]. Any strided
 * views; the output is contiguous with shape `takeShape(x.shape, axis, index.shape)`.
 */
export function take(x: GpuView, axis: number, index: GpuView, op = 'take'): KernelOutput {
  checkIndex(op, index);
  const axisSize = x.shape[axis]!;
  const shape = takeShape(x.shape, axis, index.shape);
  const dtype = takeOutput(x.dtype);
  const out = allocate(op, shape, dtype);
  const n = numel(shape);
  if (n === 0) return { buffer: out, shape, dtype };
  if (axisSize === 0) throw new Error(`${op}: cannot index axis ${axis} of size 0 in ${shapeToString(x.shape)}`);
  const ri = index.shape.length;
  // x walks its own dims and stays still over the index dims; the index does the opposite.
  const xStrides = [...x.strides.slice(0, axis), ...new Array<number>(ri).fill(0), ...x.strides.slice(axis + 1)];
  const iStrides = [...new Array<number>(axis).fill(0), ...index.strides, ...new Array<number>(x.shape.length - axis - 1).fill(0)];
  // The contiguous output's strides take part so that merged dims keep the flat order.
  const merged = coalesce(shape, [contiguousStrides(shape), xStrides, iStrides]);
  const rank = merged.shape.length;
  const params = new Uint32Array(5 + 3 * rank);
  params.set([n, axisSize, x.strides[axis]!, x.offset, index.offset]);
  params.set(merged.shape, 5);
  params.set(merged.strides[1]!, 5 + rank);
  params.set(merged.strides[2]!, 5 + 2 * rank);
  runtime().dispatch({
    ...templateLaunch('take', { rank, dtype: x.dtype }, (s) => takeWgsl(s.rank, s.dtype)),
    bindings: [x.buffer, index.buffer, out],
    params,
    workgroups: workgroupsFor(n),
  });
  return { buffer: out, shape, dtype };
}

/**
 * Parameter layout: n (= outer·K·inner), K, inner, axisSize, valuesOffset, indexOffset. Values
 * and index are contiguous (from their offsets); the output is a fresh contiguous zero tensor.
 */
function scatterAddWgsl(): string {
  const body = [
    '  if (i >= p[0]) { return; }',
    '  let K = p[1];',
    '  let inner = p[2];',
    '  let axisSize = p[3];',
    '  let b = i % inner;',
    '  let k = (i / inner) % K;',
    '  let a = i / (inner * K);',
    `  let row = ${clampIndex('index[p[5] + k]', 'axisSize')};`,
    '  // Only the first position holding this row writes it.',
    '  for (var j = 0u; j < k; j++) {',
    `    if (${clampIndex('index[p[5] + j]', 'axisSize')} == row) { return; }`,
    '  }',
    '  var acc = 0.0;',
    '  for (var j = k; j < K; j++) {',
    `    if (${clampIndex('index[p[5] + j]', 'axisSize')} == row) { acc += values[p[4] + (a * K + j) * inner + b]; }`,
    '  }',
    '  out[(a * axisSize + row) * inner + b] = acc;',
  ].join('\n');
  return [
    header([
      { name: 'values', access: 'read', type: 'f32' },
      { name: 'index', access: 'read', type: 'i32' },
      { name: 'out', access: 'read_write', type: 'f32' },
    ]),
    flatEntry(body),
  ].join('\n\n');
}

/** A contiguous copy of `v` when it is not contiguous already (and the buffer to free, if any). */
function contiguousView(v: GpuView): { view: GpuView; temp: GPUBuffer | null } {
  if (isContiguous(v)) return { view: v, temp: null };
  const copy = elementwise('copy', [v]);
  return { view: { buffer: copy.buffer, shape: copy.shape, strides: contiguousStrides(copy.shape), offset: 0, dtype: copy.dtype }, temp: copy.buffer };
}

/**
 * The adjoint of `take`: a zero tensor of `shape` into which every slice of `values` is added at
 * the position its index names, along `axis`. `values` must have shape
 * `takeShape(shape, axis, index.shape)`. Repeated indices accumulate.
 */
export function scatterAdd(shape: Shape, axis: number, index: GpuView, values: GpuView, op = 'scatterAdd'): KernelOutput {
  checkIndex(op, index);
  if (values.dtype !== 'f32') throw new Error(`${op}: values must be f32, got ${values.dtype}${shapeToString(values.shape)}`);
  const expected = takeShape(shape, axis, index.shape);
  if (expected.length !== values.shape.length || expected.some((d, i) => d !== values.shape[i])) {
    throw new Error(
      `${op}: values of shape ${shapeToString(values.shape)} do not match target ${shapeToString(shape)} indexed on axis ${axis} ` +
        `by ${shapeToString(index.shape)} (expected ${shapeToString(expected)})`,
    );
  }
  const result = fill(shape, 0, 'f32');
  const axisSize = shape[axis]!;
  const K = numel(index.shape);
  const inner = numel(shape.slice(axis + 1));
  const n = numel(values.shape);
  if (n === 0) return result;
  if (axisSize === 0) throw new Error(`${op}: cannot scatter into axis ${axis} of size 0 in ${shapeToString(shape)}`);
  const v = contiguousView(values);
  const ix = contiguousView(index);
  const pool = runtime().pool;
  runtime().dispatch({
    ...templateLaunch('scatterAdd', {}, scatterAddWgsl),
    bindings: [v.view.buffer, ix.view.buffer, result.buffer],
    params: new Uint32Array([n, K, inner, axisSize, v.view.offset, ix.view.offset]),
    workgroups: workgroupsFor(n),
  });
  if (v.temp) pool.release(v.temp);
  if (ix.temp) pool.release(ix.temp);
  return result;
}
