/**
 * Gradients of slices, assembled from their windows: `windowSum` writes a tensor of the sliced
 * tensor's shape holding the sum of any number of window gradients along one axis (each a strided
 * view placed at every `step`-th index from `start`), plus an optional full-shape addend, zeros
 * elsewhere. One dispatch for what was a padding per window and an add per extra contribution:
 * q, k and v sliced from a fused projection get their joint gradient in one kernel. `padWindow`
 * (the slice backward on its own) is its one-window case.
 */
import { runtime } from './runtime.js';
import { contiguousStrides, numel, shapeToString } from './shape.js';
import { allocate, isContiguous, type GpuView, type KernelOutput } from './view.js';
import { flatEntry, header, workgroupsFor, type BindingDecl } from './wgsl/common.js';

/** The window: `count` indices along `axis` from `start`, `step` apart. */
export interface Window {
  axis: number;
  start: number;
  step: number;
}

/** One window gradient of `windowSum`: `g` placed along the shared axis from `start`, `step` apart. */
export interface WindowPart {
  /** The window's gradient: the full shape except along the axis, where it has the window's length. */
  g: GpuView;
  /** First index of the window along the axis. */
  start: number;
  /** Distance between the window's indices (≥ 1). */
  step: number;
}

/** Words before the windows: n, addend offset, the axis's length (the rest of the shape is written into the kernel). */
const HEAD_WORDS = 3;
/** Words per window: g offset, start, step, count, g strides (rank). */
const windowWords = (rank: number): number => 4 + rank;

/**
 * `quads`: every binding is read as vec4<f32>, and `dims` (the shape), strides and offsets are in units
 * of four elements along the last axis (see `quadsFit`), so the index arithmetic, which lavapipe
 * runs lane by lane, is paid once per four elements.
 */
function windowSumWgsl(rank: number, axis: number, windows: number, addend: boolean, quads: boolean, unitSteps: boolean, dims: readonly number[]): string {
  const type = quads ? 'vec4<f32>' : 'f32';
  const bindings: BindingDecl[] = [];
  for (let k = 0; k < windows; k++) bindings.push({ name: `g${k}`, access: 'read', type });
  if (addend) bindings.push({ name: 'prior', access: 'read', type });
  bindings.push({ name: 'out', access: 'read_write', type });
  const lines = ['  if (i >= p[0]) { return; }', '  var rem = i;'];
  // The shape but the axis is part of the kernel: lavapipe divides by a parameter lane by lane (a
  // scalar division per lane and dim), by a constant with a multiply and shifts (q/k/v's gradient
  // assembly took half the time). The axis's length stays a parameter: a growing cache
  // concatenated along it would otherwise compile a kernel per length. The outermost coordinate
  // is what remains (i < n).
  for (let d = rank - 1; d > 0; d--) {
    const dim = d === axis ? 'p[2u]' : `${dims[d]}u`;
    lines.push(`  let c${d} = rem % ${dim}; rem = rem / ${dim};`);
  }
  lines.push('  let c0 = rem;');
  // Without an addend, the first window that holds the element is copied, not added to 0.0: a
  // lone window (padding, concatenation) keeps its values bit for bit, −0 included.
  lines.push(`  var acc = ${addend ? `prior[p[1u] + i]` : `${type}(0.0)`};`);
  if (!addend) lines.push('  var hit = false;');
  for (let k = 0; k < windows; k++) {
    const b = HEAD_WORDS + k * windowWords(rank);
    const terms = Array.from({ length: rank }, (_, d) => `${d === axis ? 'w' : `c${d}`} * p[${b + 4 + d}u]`);
    lines.push(
      '  {',
      `    let start = p[${b + 1}u];`,
      ...(unitSteps
        ? [`    let w = c${axis} - min(c${axis}, start);`, `    if (c${axis} >= start && w < p[${b + 3}u]) {`]
        : [
            `    let step = p[${b + 2}u];`,
            `    let w = (c${axis} - min(c${axis}, start)) / step;`,
            `    if (c${axis} >= start && (c${axis} - start) % step == 0u && w < p[${b + 3}u]) {`,
          ]),
      `      let v = g${k}[p[${b}u]${terms.map((t) => ` + ${t}`).join('')}];`,
      addend ? '      acc += v;' : '      acc = select(v, acc + v, hit);\n      hit = true;',
      '    }',
      '  }',
    );
  }
  lines.push('  out[i] = acc;');
  return [header(bindings), flatEntry(lines.join('\n'))].join('\n\n');
}

function checkPart(op: string, part: WindowPart, shape: readonly number[], axis: number): void {
  const { g, start, step } = part;
  const count = g.shape[axis] ?? 0;
  const fits =
    g.shape.length === shape.length &&
    g.shape.every((d, i) => i === axis || d === shape[i]) &&
    Number.isInteger(start) &&
    Number.isInteger(step) &&
    start >= 0 &&
    (count === 0 || start + (count - 1) * step < shape[axis]!);
  if (g.dtype !== 'f32' || !fits || step < 1) {
    throw new Error(`${op}: ${g.dtype}${shapeToString(g.shape)} does not fit the window ${start}::${step} along axis ${axis} of ${shapeToString(shape)}`);
  }
}

/**
 * Whether the dispatch can move four elements along the last axis at a time: the windows run
 * along another axis, the last axis has a multiple of 4 elements, and every window (and the
 * addend) is contiguous along it with offsets and other strides on whole vec4s.
 */
function quadsFit(shape: readonly number[], axis: number, parts: readonly WindowPart[], addend: GpuView | null): boolean {
  const last = shape.length - 1;
  if (axis === last || shape[last]! % 4 !== 0) return false;
  const whole = (view: GpuView): boolean => view.offset % 4 === 0 && view.strides[last] === 1 && view.strides.every((st, d) => d === last || st % 4 === 0);
  return parts.every((part) => whole(part.g)) && (addend === null || addend.offset % 4 === 0);
}

/**
 * Windows one dispatch can read besides the output and the addend: the adapter's storage
 * bindings per stage, less the parameter block (binding 0).
 */
function windowsPerDispatch(addend: boolean): number {
  return Math.max(1, (runtime().limits.maxStorageBuffersPerShaderStage ?? 8) - 2 - (addend ? 1 : 0));
}

/**
 * A new contiguous f32 tensor of `shape`: `addend` (a contiguous f32 tensor of `shape`, or zeros)
 * plus, at each window's indices along `axis`, that window's gradient. Windows may overlap (their
 * values add) or leave gaps (zeros there). One dispatch when the windows fit the adapter's storage
 * bindings (six, or five with an addend, on the WebGPU minimum), one more per further batch.
 * `op` names the caller in errors.
 */
export function windowSum(shape: readonly number[], axis: number, parts: readonly WindowPart[], addend: GpuView | null = null, op = 'windowSum'): KernelOutput {
  const rank = shape.length;
  if (!Number.isInteger(axis) || axis < 0 || axis >= rank) throw new Error(`${op}: axis ${axis} is out of range for ${shapeToString(shape)}`);
  for (const part of parts) checkPart(op, part, shape, axis);
  if (addend && (addend.dtype !== 'f32' || addend.shape.length !== rank || addend.shape.some((d, i) => d !== shape[i]) || !isContiguous(addend))) {
    throw new Error(`${op}: the addend ${addend.dtype}${shapeToString(addend.shape)} is not a contiguous f32 tensor of shape ${shapeToString(shape)}`);
  }
  const n = numel(shape);
  const live = parts.filter((part) => (part.g.shape[axis] ?? 0) > 0);
  const batch = windowsPerDispatch(addend !== null);
  if (live.length > batch) {
    // More windows than bindings: the first batch, then the rest with it as their addend.
    const first = windowSum(shape, axis, live.slice(0, batch), addend, op);
    try {
      const view: GpuView = { buffer: first.buffer, shape: first.shape, strides: contiguousStrides(shape), offset: 0, dtype: 'f32' };
      return windowSum(shape, axis, live.slice(batch), view, op);
    } finally {
      runtime().pool.release(first.buffer);
    }
  }
  const out = allocate(op, shape, 'f32');
  if (n === 0) return { buffer: out, shape: [...shape], dtype: 'f32' };
  const quads = quadsFit(shape, axis, live, addend);
  // Windows of consecutive indices (slices without a step): no division per element and window.
  const unitSteps = live.every((part) => part.step === 1);
  // In vec4 units when `quads`: the last axis, offsets and the other strides divide by 4.
  const unit = quads ? 4 : 1;
  const params = new Uint32Array(HEAD_WORDS + live.length * windowWords(rank));
  params[0] = n / unit;
  const dims = shape.map((d, i) => (i === rank - 1 ? d / unit : d));
  params[1] = (addend?.offset ?? 0) / unit;
  params[2] = dims[axis]!;
  // The kernel's shape (the axis's length and the outermost dim are not in it).
  const fixed = dims.map((d, i) => (i === axis || i === 0 ? '*' : d));
  live.forEach(({ g, start, step }, k) => {
    const b = HEAD_WORDS + k * windowWords(rank);
    params.set([g.offset / unit, start, step, g.shape[axis]!], b);
    params.set(g.strides.map((st, d) => (d === rank - 1 ? st : st / unit)), b + 4);
  });
  runtime().dispatch({
    key: `windowSum/r${rank}/a${axis}/w${live.length}${addend ? '/add' : ''}${quads ? '/v4' : ''}${unitSteps ? '/s1' : ''}/${fixed.join('x')}`,
    wgsl: () => windowSumWgsl(rank, axis, live.length, addend !== null, quads, unitSteps, dims),
    bindings: [...live.map((part) => part.g.buffer), ...(addend ? [addend.buffer] : []), out],
    params,
    workgroups: workgroupsFor(n / unit),
  });
  return { buffer: out, shape: [...shape], dtype: 'f32' };
}

/**
 * A new contiguous f32 tensor of `shape`: `g` in the window, zeros elsewhere. `g` has `shape`
 * except along `window.axis`, where it has the window's length; it may be any strided view.
 */
export function padWindow(g: GpuView, shape: readonly number[], window: Window): KernelOutput {
  const { axis, start, step } = window;
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new Error(`padWindow: ${g.dtype}${shapeToString(g.shape)} does not fit the window ${start}::${step} along axis ${axis} of ${shapeToString(shape)}`);
  }
  return windowSum(shape, axis, [{ g, start, step }], null, 'padWindow');
}
