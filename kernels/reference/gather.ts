/** Reference for the indexing family: take (gather / embedding), scatterAdd, concat. */
import { contiguousStrides, type Shape } from '../shape.js';
import { refTensor, unravel, type RefTensor } from './tensor.js';

/** NumPy take(x, index, axis): x's dim `axis` replaced by index's shape. Indices are clamped. */
export function refTake(x: RefTensor, axis: number, index: RefTensor): RefTensor {
  const shape = [...x.shape.slice(0, axis), ...index.shape, ...x.shape.slice(axis + 1)];
  const out = refTensor(shape);
  const xStrides = contiguousStrides(x.shape);
  const ri = index.shape.length;
  for (let i = 0; i < out.data.length; i++) {
    const idx = unravel(i, shape);
    const k = flatIndex(idx.slice(axis, axis + ri), index.shape);
    const row = Math.min(Math.max(index.data[k]!, 0), x.shape[axis]! - 1);
    const xi = [...idx.slice(0, axis), row, ...idx.slice(axis + ri)];
    out.data[i] = x.data[flatIndexWith(xi, xStrides)]!;
  }
  return out;
}

/** Zeros of `shape` plus every slice of `values` added at the row its index names along `axis`. */
export function refScatterAdd(shape: Shape, axis: number, index: RefTensor, values: RefTensor): RefTensor {
  const out = refTensor(shape);
  const outStrides = contiguousStrides(shape);
  const ri = index.shape.length;
  for (let i = 0; i < values.data.length; i++) {
    const idx = unravel(i, values.shape);
    const k = flatIndex(idx.slice(axis, axis + ri), index.shape);
    const row = Math.min(Math.max(index.data[k]!, 0), shape[axis]! - 1);
    const oi = [...idx.slice(0, axis), row, ...idx.slice(axis + ri)];
    out.data[flatIndexWith(oi, outStrides)]! += values.data[i]!;
  }
  return out;
}

/** Concatenation along `axis` (non-negative). */
export function refConcat(xs: readonly RefTensor[], axis: number): RefTensor {
  const shape = [...xs[0]!.shape];
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
  const out = refTensor(shape);
  const outStrides = contiguousStrides(shape);
  let start = 0;
  for (const x of xs) {
    for (let i = 0; i < x.data.length; i++) {
      const idx = unravel(i, x.shape);
      idx[axis] = idx[axis]! + start;
      out.data[flatIndexWith(idx, outStrides)] = x.data[i]!;
    }
    start += x.shape[axis]!;
  }
  return out;
}

function flatIndex(idx: readonly number[], shape: Shape): number {
  return flatIndexWith(idx, contiguousStrides(shape));
}

function flatIndexWith(idx: readonly number[], strides: readonly number[]): number {
  let o = 0;
  idx.forEach((v, d) => (o += v * strides[d]!));
  return o;
}
