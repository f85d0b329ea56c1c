/** Float64 reference of softmax and log-softmax over the last axis (tests and gradcheck only). */
import { refTensor, type RefTensor } from './tensor.js';

/**
 * Applies `f` to every row of the last axis (a 0-d tensor is one row of one element), writing
 * the row's results in place of its values.
 */
export function refRows(x: RefTensor, f: (row: Float64Array) => ArrayLike<number>): RefTensor {
  const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1]!;
  const out = refTensor(x.shape);
  if (n === 0) return out;
  for (let start = 0; start < x.data.length; start += n) out.data.set(f(x.data.subarray(start, start + n)), start);
  return out;
}

/** The max-subtracted log-sum-exp pieces of one row: max, and Σ exp(v − max). */
function rowStats(row: Float64Array): { m: number; s: number } {
  let m = -Infinity;
  for (const v of row) m = Math.max(m, v);
  if (m === -Infinity) return { m, s: 0 };
  let s = 0;
  for (const v of row) s += Math.exp(v - m);
  return { m, s };
}

/** Softmax over the last axis; a row that is entirely −∞ gives zeros (the kernel's convention). */
export function refSoftmax(x: RefTensor): RefTensor {
  return refRows(x, (row) => {
    const { m, s } = rowStats(row);
    return row.map((v) => (s === 0 ? 0 : Math.exp(v - m) / s));
  });
}

/** Log-softmax over the last axis; a row that is entirely −∞ stays −∞. */
export function refLogSoftmax(x: RefTensor): RefTensor {
  return refRows(x, (row) => {
    const { m, s } = rowStats(row);
    return row.map((v) => (s === 0 ? v : v - m - Math.log(s)));
  });
}

/** The softmax's vector-Jacobian product s ⊙ (g − Σ_row s ⊙ g) over the last axis, s the softmax output. */
export function refSoftmaxBackward(s: RefTensor, g: RefTensor): RefTensor {
  const n = s.shape.length === 0 ? 1 : s.shape[s.shape.length - 1]!;
  const out = refTensor(s.shape);
  for (let start = 0; start < s.data.length; start += n) {
    let t = 0;
    for (let j = start; j < start + n; j++) t += s.data[j]! * g.data[j]!;
    for (let j = start; j < start + n; j++) out.data[j] = s.data[j]! * (g.data[j]! - t);
  }
  return out;
}
