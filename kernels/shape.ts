/** Shape arithmetic shared by every kernel launcher: sizes, strides, broadcasting, coalescing. */

/** A tensor's dimensions, outermost first; `[]` is a scalar. */
export type Shape = readonly number[];

/** Elements in a tensor of `shape` (1 for a scalar). */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major element strides of a contiguous tensor of `shape` (the last dimension has stride 1). */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** `[2, 3]`: how error messages print a shape. */
export function shapeToString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Whether two shapes have the same rank and dimensions. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting of any number of shapes; throws naming the op and every shape. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const shape of shapes) {
    for (let i = 0; i < shape.length; i++) {
      const o = rank - shape.length + i;
      const d = shape[i]!;
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else throw new Error(`${op}: shapes ${shapes.map(shapeToString).join(' and ')} cannot be broadcast together`);
    }
  }
  return out;
}

/** Strides that read a tensor of `shape`/`strides` as if it had the broadcast shape `target`. */
export function broadcastStrides(shape: Shape, strides: readonly number[], target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const lead = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[lead + i] = shape[i] === 1 ? 0 : strides[i]!;
  return out;
}

/** Normalises a possibly negative axis; throws naming the op when it is out of range. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return a;
}

/**
 * Merges adjacent dimensions that every operand walks contiguously, and drops size-1 dimensions,
 * so most elementwise launches become rank 1 and pick a simpler kernel variant.
 */
export function coalesce(shape: Shape, stridesPerOperand: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const dims: number[] = [];
  const strides: number[][] = stridesPerOperand.map(() => []);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === 1) continue;
    const last = dims.length - 1;
    const mergeable =
      last >= 0 && stridesPerOperand.every((s, k) => strides[k]![last] === s[i]! * d);
    if (mergeable) {
      dims[last] = dims[last]! * d;
      stridesPerOperand.forEach((s, k) => (strides[k]![last] = s[i]!));
    } else {
      dims.push(d);
      stridesPerOperand.forEach((s, k) => strides[k]!.push(s[i]!));
    }
  }
  return { shape: dims, strides };
}

/** Whether `strides` lay `shape` out densely (a permutation of some row-major order, no gaps or overlaps). */
export function isDenseLayout(shape: readonly number[], strides: readonly number[]): boolean {
  const dims = shape.map((d, i) => ({ d, s: strides[i]! })).filter((e) => e.d > 1);
  dims.sort((a, b) => a.s - b.s);
  let step = 1;
  for (const { d, s } of dims) {
    if (s !== step) return false;
    step *= d;
  }
  return true;
}
