/**
 * The pure-TS reference: float64 tensors and the loops every kernel is tested against. Used only by
 * tests and gradcheck; nothing in the product path imports it.
 */
import { broadcastShapes, broadcastStrides, contiguousStrides, numel, type Shape } from '../shape.js';

export interface RefTensor {
  shape: number[];
  data: Float64Array;
}

export function refTensor(shape: Shape, data?: ArrayLike<number>): RefTensor {
  const n = numel(shape);
  const out = new Float64Array(n);
  if (data) {
    if (data.length !== n) throw new Error(`refTensor: ${data.length} values for shape [${shape.join(', ')}]`);
    out.set(data);
  }
  return { shape: [...shape], data: out };
}

/** Multi-index of flat position `i` in a contiguous tensor of `shape`. */
export function unravel(i: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

/** Applies `f` elementwise with NumPy broadcasting. */
export function refMap(inputs: readonly RefTensor[], f: (args: number[]) => number): RefTensor {
  const shape = broadcastShapes('reference', ...inputs.map((t) => t.shape));
  const out = refTensor(shape);
  const strides = inputs.map((t) => broadcastStrides(t.shape, contiguousStrides(t.shape), shape));
  const args = new Array<number>(inputs.length);
  for (let i = 0; i < out.data.length; i++) {
    const idx = unravel(i, shape);
    for (let k = 0; k < inputs.length; k++) {
      let o = 0;
      for (let d = 0; d < shape.length; d++) o += idx[d]! * strides[k]![d]!;
      args[k] = inputs[k]!.data[o]!;
    }
    out.data[i] = f(args);
  }
  return out;
}

/** Reduces over `axes` with `f` applied to the list of reduced values. */
export function refReduce(x: RefTensor, axes: readonly number[], keepDim: boolean, f: (values: number[]) => number): RefTensor {
  const set = new Set(axes);
  const outShape = x.shape.map((d, i) => (set.has(i) ? 1 : d));
  const groups = new Map<number, number[]>();
  const outStrides = contiguousStrides(outShape);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape);
    let o = 0;
    idx.forEach((v, d) => (o += (set.has(d) ? 0 : v) * outStrides[d]!));
    let list = groups.get(o);
    if (!list) groups.set(o, (list = []));
    list.push(x.data[i]!);
  }
  const finalShape = keepDim ? outShape : x.shape.filter((_, i) => !set.has(i));
  const out = refTensor(finalShape);
  for (let o = 0; o < out.data.length; o++) out.data[o] = f(groups.get(o) ?? []);
  return out;
}

/** Permutes dimensions. */
export function refPermute(x: RefTensor, dims: readonly number[]): RefTensor {
  const shape = dims.map((d) => x.shape[d]!);
  const inStrides = contiguousStrides(x.shape);
  const out = refTensor(shape);
  for (let i = 0; i < out.data.length; i++) {
    const idx = unravel(i, shape);
    let o = 0;
    idx.forEach((v, k) => (o += v * inStrides[dims[k]!]!));
    out.data[i] = x.data[o]!;
  }
  return out;
}
