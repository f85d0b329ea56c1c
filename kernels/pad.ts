/**
 * Zero padding around a window: the backward of `slice`. The result has the sliced tensor's
 * shape, zeros everywhere except the window (every `step`-th index from `start` along `axis`),
 * which holds `g`. One dispatch (it was a fill and a strided copy into the window), and `g` may be
 * any strided view.
 */
import { runtime } from './runtime.js';
import { numel, shapeToString } from './shape.js';
import { allocate, type GpuView, type KernelOutput } from './view.js';
import { flatEntry, header, workgroupsFor } from './wgsl/common.js';

/** The window: `count` indices along `axis` from `start`, `step` apart. */
export interface Window {
  axis: number;
  start: number;
  step: number;
}

/** Parameter layout: n, axis start, step, g offset, shape (rank), g strides (rank). */
function padWgsl(rank: number, axis: number): string {
  const lines = ['  if (i >= p[0]) { return; }', '  var rem = i;', '  var og = p[3];', '  var inside = true;'];
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(`  let c${d} = rem % p[${4 + d}u]; rem = rem / p[${4 + d}u];`);
    if (d === axis) {
      lines.push(`  let w${d} = (c${d} - min(c${d}, p[1])) / p[2];`);
      lines.push(`  inside = inside && c${d} >= p[1] && (c${d} - p[1]) % p[2] == 0u && w${d} < p[${4 + 2 * rank}u];`);
      lines.push(`  og += w${d} * p[${4 + rank + d}u];`);
    } else lines.push(`  og += c${d} * p[${4 + rank + d}u];`);
  }
  lines.push('  out[i] = select(0.0, g[og], inside);');
  return [
    header([
      { name: 'g', access: 'read', type: 'f32' },
      { name: 'out', access: 'read_write', type: 'f32' },
    ]),
    flatEntry(lines.join('\n')),
  ].join('\n\n');
}

/**
 * A new contiguous f32 tensor of `shape`: `g` in the window, zeros elsewhere. `g` has `shape`
 * except along `window.axis`, where it has the window's length.
 */
export function padWindow(g: GpuView, shape: readonly number[], window: Window): KernelOutput {
  const { axis, start, step } = window;
  const rank = shape.length;
  const count = g.shape[axis] ?? 0;
  const fits = g.shape.length === rank && g.shape.every((d, i) => i === axis || d === shape[i]) && (count === 0 || start + (count - 1) * step < shape[axis]!);
  if (g.dtype !== 'f32' || !fits || step < 1) {
    throw new Error(`padWindow: ${g.dtype}${shapeToString(g.shape)} does not fit the window ${start}::${step} along axis ${axis} of ${shapeToString(shape)}`);
  }
  const out = allocate('padWindow', shape, 'f32');
  const n = numel(shape);
  if (n === 0) return { buffer: out, shape: [...shape], dtype: 'f32' };
  const params = new Uint32Array(4 + 2 * rank + 1);
  params.set([n, start, step, g.offset]);
  params.set(shape, 4);
  params.set(g.strides, 4 + rank);
  params[4 + 2 * rank] = count;
  runtime().dispatch({
    key: `padWindow/r${rank}/a${axis}`,
    wgsl: () => padWgsl(rank, axis),
    bindings: [g.buffer, out],
    params,
    workgroups: workgroupsFor(n),
  });
  return { buffer: out, shape: [...shape], dtype: 'f32' };
}
