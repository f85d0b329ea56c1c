/**
 * Float64 references the op-coverage gradchecks need that kernels/reference/ has no function for:
 * elementwise ops through their kernel records' `ref`, the reductions, and the view ops.
 */
import { ELEMENTWISE, type ElementwiseOp } from '../../kernels/elementwise.js';
import { contiguousStrides } from '../../kernels/shape.js';
import { refMap, refReduce, refTensor, unravel, type RefTensor } from '../../kernels/reference/tensor.js';

/** The elementwise op `name` in float64, with broadcasting (the kernel record's own `ref`). */
export function refElementwise(name: ElementwiseOp, inputs: readonly RefTensor[], scalars: number[] = []): RefTensor {
  const ref = ELEMENTWISE[name].ref as (args: number[], scalars: number[]) => number;
  return refMap(inputs, (args) => ref(args, scalars));
}

export type Reduction = 'sum' | 'mean' | 'max' | 'min' | 'var';

const REDUCE: Record<Reduction, (v: number[], correction: number) => number> = {
  sum: (v) => v.reduce((a, b) => a + b, 0),
  mean: (v) => v.reduce((a, b) => a + b, 0) / v.length,
  max: (v) => Math.max(...v),
  min: (v) => Math.min(...v),
  var: (v, correction) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - correction);
  },
};

/** A reduction over non-negative `axes`; `correction` only matters for var. */
export function refReduction(op: Reduction, x: RefTensor, axes: readonly number[], keepDim: boolean, correction = 0): RefTensor {
  return refReduce(x, axes, keepDim, (v) => REDUCE[op](v, correction));
}

/** x broadcast to `shape`. */
export function refExpand(x: RefTensor, shape: readonly number[]): RefTensor {
  return refMap([x, refTensor(shape)], ([a]) => a!);
}

/** Elements start, start + step, ... < end along `axis` (non-negative, already clamped). */
export function refSlice(x: RefTensor, axis: number, start: number, end: number, step = 1): RefTensor {
  const shape = [...x.shape];
  shape[axis] = Math.max(0, Math.ceil((end - start) / step));
  const strides = contiguousStrides(x.shape);
  const out = refTensor(shape);
  for (let i = 0; i < out.data.length; i++) {
    const idx = unravel(i, shape);
    idx[axis] = start + idx[axis]! * step;
    out.data[i] = x.data[idx.reduce((o, v, d) => o + v * strides[d]!, 0)]!;
  }
  return out;
}

/** The same values with a new shape (row-major order is unchanged). */
export function refReshape(x: RefTensor, shape: readonly number[]): RefTensor {
  return refTensor(shape, x.data);
}
