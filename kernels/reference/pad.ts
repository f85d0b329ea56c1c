/** Float64 reference of `padWindow` (tests only). */
import { numel } from '../shape.js';
import { refTensor, unravel, type RefTensor } from './tensor.js';

/** `shape` filled with zeros except the window along `axis` (from `start`, `step` apart), which holds `g`. */
export function refPadWindow(g: RefTensor, shape: readonly number[], axis: number, start: number, step: number): RefTensor {
  const out = refTensor(shape);
  for (let i = 0; i < numel(shape); i++) {
    const idx = unravel(i, shape);
    const c = idx[axis]!;
    const w = (c - start) / step;
    if (c < start || !Number.isInteger(w) || w >= g.shape[axis]!) continue;
    idx[axis] = w;
    let flat = 0;
    for (let d = 0; d < idx.length; d++) flat = flat * g.shape[d]! + idx[d]!;
    out.data[i] = g.data[flat]!;
  }
  return out;
}
