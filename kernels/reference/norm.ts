/** Float64 reference of LayerNorm and RMSNorm over the last axis (tests and gradcheck only). */
import { refTensor, type RefTensor } from './tensor.js';
import { refRows } from './softmax.js';

/** Mean and rsqrt(population variance + eps) of every row, shaped [..., 1]. */
export function refLayerNormStats(x: RefTensor, eps: number): { mean: RefTensor; rstd: RefTensor } {
  const shape = [...x.shape.slice(0, -1), 1];
  const mean = refTensor(shape);
  const rstd = refTensor(shape);
  const n = x.shape[x.shape.length - 1]!;
  for (let r = 0; r < mean.data.length; r++) {
    const row = x.data.subarray(r * n, (r + 1) * n);
    let m = 0;
    for (const v of row) m += v;
    m /= n;
    let q = 0;
    for (const v of row) q += (v - m) ** 2;
    mean.data[r] = m;
    rstd.data[r] = 1 / Math.sqrt(q / n + eps);
  }
  return { mean, rstd };
}

/** rsqrt(mean(x²) + eps) of every row, shaped [..., 1]. */
export function refRmsNormScale(x: RefTensor, eps: number): RefTensor {
  const shape = [...x.shape.slice(0, -1), 1];
  const out = refTensor(shape);
  const n = x.shape[x.shape.length - 1]!;
  for (let r = 0; r < out.data.length; r++) {
    let q = 0;
    for (let j = 0; j < n; j++) q += x.data[r * n + j]! ** 2;
    out.data[r] = 1 / Math.sqrt(q / n + eps);
  }
  return out;
}

function affine(row: Float64Array, weight: RefTensor | null, bias: RefTensor | null): Float64Array {
  return row.map((v, j) => v * (weight ? weight.data[j]! : 1) + (bias ? bias.data[j]! : 0));
}

/** (x − μ)/sqrt(var + eps)·w + b over the last axis, population variance. */
export function refLayerNorm(x: RefTensor, weight: RefTensor | null, bias: RefTensor | null, eps: number): RefTensor {
  return refRows(x, (row) => {
    let m = 0;
    for (const v of row) m += v;
    m /= row.length;
    let q = 0;
    for (const v of row) q += (v - m) ** 2;
    const r = 1 / Math.sqrt(q / row.length + eps);
    return affine(row.map((v) => (v - m) * r), weight, bias);
  });
}

/** x·rsqrt(mean(x²) + eps)·w over the last axis (Hugging Face LLaMA's RMSNorm). */
export function refRmsNorm(x: RefTensor, weight: RefTensor | null, eps: number): RefTensor {
  return refRows(x, (row) => {
    let q = 0;
    for (const v of row) q += v * v;
    const r = 1 / Math.sqrt(q / row.length + eps);
    return affine(row.map((v) => v * r), weight, null);
  });
}

/**
 * The norm's input gradient with its scale r held constant: r ⊙ (g ⊙ w − mean_row(g ⊙ w)) for
 * LayerNorm (`center`), r ⊙ g ⊙ w for RMSNorm, with r = rsqrt(var + eps) or rsqrt(mean(x²) + eps).
 */
export function refNormScaleDetachedGrad(x: RefTensor, g: RefTensor, weight: RefTensor | null, center: boolean, eps: number): RefTensor {
  const r = center ? refLayerNormStats(x, eps).rstd : refRmsNormScale(x, eps);
  const n = x.shape[x.shape.length - 1]!;
  const out = refTensor(x.shape);
  for (let row = 0; row < r.data.length; row++) {
    const gw = Array.from({ length: n }, (_, j) => g.data[row * n + j]! * (weight ? weight.data[j]! : 1));
    const centre = center ? gw.reduce((a, b) => a + b, 0) / n : 0;
    for (let j = 0; j < n; j++) out.data[row * n + j] = r.data[row]! * (gw[j]! - centre);
  }
  return out;
}
