/**
 * Shape ops. Most are views (no copy): the output shares the input's storage with new strides.
 * `reshape` copies only when the strides make a view impossible; `contiguous` always materialises.
 */
import { elementwise } from '../../kernels/elementwise.js';
import { contiguousStrides, normalizeAxis, numel, shapeToString, type Shape } from '../../kernels/shape.js';
import { defineOp } from '../op.js';
import { sliceBackward } from './sliceBackward.js';
import { Tensor } from '../tensor.js';
import { wrap } from './wrap.js';
import { sumToShape } from './sumToShape.js';

declare module '../opTypes.js' {
  interface OpAttrs {
    /** `contiguous` has no attributes. */
    contiguous: undefined;
    /** `reshape`'s target shape (−1 resolved). */
    reshape: { shape: number[] };
    /** `permute`'s order: output dimension i is input dimension `dims[i]`. */
    permute: { dims: number[] };
    /** `expand`'s broadcast shape. */
    expand: { shape: number[] };
    /** `slice`'s range along `axis`: `start` (inclusive) to `end` (exclusive), every `step`-th. */
    slice: { axis: number; start: number; end: number; step: number };
    /** `detach` has no attributes. */
    detach: undefined;
  }
}

function view(x: Tensor, shape: Shape, strides: readonly number[], offset: number): Tensor {
  const storage = x.storage;
  storage.retain();
  return new Tensor(storage, shape, x.dtype, strides, offset);
}

/**
 * Strides for viewing `x` with `shape`, or null when its layout does not allow a view. Runs of
 * dims that are contiguous with each other may be merged and any dim may be split (PyTorch's
 * `computeStride`), so q/k/v sliced from a fused projection reshape to heads without a copy.
 */
function viewStrides(x: Tensor, shape: Shape): number[] | null {
  if (x.contiguous || x.size === 0) return contiguousStrides(shape);
  const [oldShape, oldStrides] = [x.shape, x.strides];
  const strides = new Array<number>(shape.length);
  let viewD = shape.length - 1;
  // Walk the old dims from the innermost, cutting them into chunks whose dims are mutually contiguous.
  let chunkBase = oldStrides[oldShape.length - 1]!;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = oldShape.length - 1; d >= 0; d--) {
    tensorNumel *= oldShape[d]!;
    if (d === 0 || (oldShape[d - 1] !== 1 && oldStrides[d - 1] !== tensorNumel * chunkBase)) {
      // The chunk ends here: the new dims covering it take strides within it.
      while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] === 1)) {
        strides[viewD] = viewNumel * chunkBase;
        viewNumel *= shape[viewD]!;
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = oldStrides[d - 1]!;
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  return viewD === -1 ? strides : null;
}

const copyOp = defineOp({
  name: 'contiguous',
  role: 'structural',
  forward: ([x]) => wrap(elementwise('copy', [x!])),
  backward: (_ctx, g) => [g],
});

/** A contiguous copy (or `x` itself, as a new handle, when already contiguous). */
export function contiguous(x: Tensor): Tensor {
  if (x.contiguous) return reshape(x, x.shape);
  return copyOp([x], undefined);
}

/** Always copies, even contiguous tensors (a fresh buffer the caller may write into). */
export function clone(x: Tensor): Tensor {
  return copyOp([x], undefined);
}

const reshapeOp = defineOp({
  name: 'reshape',
  role: 'structural',
  forward: ([x], { shape }) => {
    const strides = viewStrides(x!, shape);
    if (strides) return view(x!, shape, strides, x!.offset);
    const copy = wrap(elementwise('copy', [x!]));
    const out = view(copy, shape, contiguousStrides(shape), 0);
    copy.dispose();
    return out;
  },
  backward: (ctx, g) => [reshape(g, ctx.inputs[0]!.shape)],
});

/** Reshape; one dimension may be -1. A view when the layout allows, else a copy. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const known = shape.filter((d) => d !== -1);
  const infer = shape.length - known.length;
  if (infer > 1) throw new Error(`reshape: more than one -1 in ${shapeToString(shape)}`);
  const knownSize = numel(known);
  const resolved = shape.map((d) => (d === -1 ? (knownSize === 0 ? 0 : x.size / knownSize) : d));
  if (numel(resolved) !== x.size || resolved.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: cannot reshape ${shapeToString(x.shape)} (${x.size} elements) to ${shapeToString(shape)}`);
  }
  return reshapeOp([x], { shape: resolved });
}

const permuteOp = defineOp({
  name: 'permute',
  role: 'structural',
  forward: ([x], { dims }) =>
    view(x!, dims.map((d) => x!.shape[d]!), dims.map((d) => x!.strides[d]!), x!.offset),
  backward: (ctx, g) => {
    const inverse = new Array<number>(ctx.attrs.dims.length);
    ctx.attrs.dims.forEach((d, i) => (inverse[d] = i));
    return [permute(g, inverse)];
  },
});

/** Reorders dimensions (a view). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const norm = dims.map((d) => normalizeAxis('permute', d, x.rank));
  if (norm.length !== x.rank || new Set(norm).size !== x.rank) {
    throw new Error(`permute: [${dims.join(', ')}] is not a permutation of the ${x.rank} dims of ${shapeToString(x.shape)}`);
  }
  return permuteOp([x], { dims: norm });
}

/** Swaps two dimensions (a view). */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const dims = x.shape.map((_, i) => i);
  const i = normalizeAxis('transpose', a, x.rank);
  const j = normalizeAxis('transpose', b, x.rank);
  [dims[i], dims[j]] = [dims[j]!, dims[i]!];
  return permute(x, dims);
}

const expandOp = defineOp({
  name: 'expand',
  role: 'structural',
  forward: ([x], { shape }) => {
    const lead = shape.length - x!.rank;
    const strides = shape.map((d, i) => (i < lead || x!.shape[i - lead] === 1 ? 0 : x!.strides[i - lead]!));
    return view(x!, shape, strides, x!.offset);
  },
  backward: (ctx, g) => [sumToShape(g, ctx.inputs[0]!.shape)],
});

/** Broadcasts to `shape` (a view with stride 0 on broadcast dims). */
export function expand(x: Tensor, shape: Shape): Tensor {
  const lead = shape.length - x.rank;
  if (lead < 0 || x.shape.some((d, i) => d !== 1 && d !== shape[lead + i])) {
    throw new Error(`expand: cannot broadcast ${shapeToString(x.shape)} to ${shapeToString(shape)}`);
  }
  return expandOp([x], { shape: [...shape] });
}

const sliceOp = defineOp({
  name: 'slice',
  role: 'structural',
  forward: ([x], { axis, start, end, step }) => {
    const shape = [...x!.shape];
    shape[axis] = Math.max(0, Math.ceil((end - start) / step));
    const strides = [...x!.strides];
    strides[axis] = x!.strides[axis]! * step;
    return view(x!, shape, strides, x!.offset + start * x!.strides[axis]!);
  },
  backward: sliceBackward,
});

/** Elements `start` (inclusive) to `end` (exclusive) along `axis`, every `step`-th (a view). */
export function slice(x: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  const a = normalizeAxis('slice', axis, x.rank);
  const size = x.shape[a]!;
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
  if (!Number.isInteger(step) || step < 1) throw new Error(`slice: step must be a positive integer, got ${step}`);
  const s = clamp(start);
  const e = Math.max(s, clamp(end ?? size));
  return sliceOp([x], { axis: a, start: s, end: e, step });
}

/** Inserts a size-1 dimension at `axis`. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  // The new dim may go at any of rank + 1 places: axis in [-(rank + 1), rank].
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  if (!Number.isInteger(a) || a < 0 || a > x.rank) {
    throw new Error(`unsqueeze: axis ${axis} is out of range for a tensor of rank ${x.rank} (expected ${-x.rank - 1} to ${x.rank})`);
  }
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

/** Removes size-1 dimensions (all, or the one at `axis`). */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normalizeAxis('squeeze', axis, x.rank);
  if (x.shape[a] !== 1) throw new Error(`squeeze: dim ${axis} of ${shapeToString(x.shape)} is not 1`);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

const detachOp = defineOp({
  name: 'detach',
  role: 'structural',
  forward: ([x]) => view(x!, x!.shape, x!.strides, x!.offset),
  backward: () => [null],
});

/**
 * Identity forward, zero backward. Unlike a constant it is a node in the graph, so reports can
 * show where relevance was blocked.
 */
export function detach(x: Tensor): Tensor {
  return detachOp([x], undefined);
}
