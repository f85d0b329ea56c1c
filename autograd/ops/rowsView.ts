/** A tensor [..., n] read as a 2-D [rows, n] view, for kernels that walk rows. */
import type { GpuView } from '../../kernels/view.js';
import type { Tensor } from '../tensor.js';

/**
 * [..., out] seen as [rows, out] without a copy, or null when the leading dims do not merge into
 * one stride (size-1 dims aside).
 */
export function rowsView(t: Tensor): GpuView | null {
  if (t.rank === 0) return null;
  const last = t.rank - 1;
  let rowStride: number | null = null;
  let expected: number | null = null;
  for (let d = last - 1; d >= 0; d--) {
    if (t.shape[d] === 1) continue;
    if (expected !== null && t.strides[d] !== expected) return null;
    rowStride ??= t.strides[d]!;
    expected = t.strides[d]! * t.shape[d]!;
  }
  const out = t.shape[last]!;
  return { buffer: t.buffer, shape: [out === 0 ? 0 : t.size / out, out], strides: [rowStride ?? 0, t.strides[last]!], offset: t.offset, dtype: 'f32' };
}
