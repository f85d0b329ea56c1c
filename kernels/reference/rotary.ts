/** Reference for positional encodings: rotary (rotate-half layout), its tables, sinusoidal positions. */
import { refMap, refTensor, unravel, type RefTensor } from './tensor.js';

/** concat(−x[..., R/2:R], x[..., :R/2]) over the last dim (R = its size). */
export function refRotateHalf(x: RefTensor): RefTensor {
  const R = x.shape[x.shape.length - 1]!;
  const h = R / 2;
  const out = refTensor(x.shape);
  for (let i = 0; i < x.data.length; i++) {
    const d = i % R;
    out.data[i] = d < h ? -x.data[i + h]! : x.data[i - h]!;
  }
  return out;
}

/**
 * x ⊙ cos + rotateHalf(x) ⊙ sin on the first R = cos.shape[-1] features of x; the rest passes
 * through. cos/sin broadcast against x's leading dims.
 */
export function refRotary(x: RefTensor, cos: RefTensor, sin: RefTensor): RefTensor {
  const D = x.shape[x.shape.length - 1]!;
  const R = cos.shape[cos.shape.length - 1]!;
  const lead = x.shape.slice(0, -1);
  // Split x into its rotated part [..., R] and the pass-through, rotate, and put them back.
  const rot = refTensor([...lead, R]);
  for (let i = 0; i < rot.data.length; i++) rot.data[i] = x.data[Math.floor(i / R) * D + (i % R)]!;
  const rotated = refMap([rot, cos, refRotateHalf(rot), sin], ([a, c, b, s]) => a! * c! + b! * s!);
  const out = refTensor(x.shape, x.data);
  for (let i = 0; i < rotated.data.length; i++) out.data[Math.floor(i / R) * D + (i % R)] = rotated.data[i]!;
  return out;
}

/**
 * HF LLaMA tables in float64: inv_freq[i] = 1 / theta^(2i / R), angle = position · inv_freq,
 * emb = concat(angles, angles); R = floor(dim · partialFactor).
 */
export function refRotaryTables(positions: readonly number[], dim: number, theta = 10000, partialFactor = 1): { cos: RefTensor; sin: RefTensor } {
  const R = Math.floor(dim * partialFactor);
  const cos = refTensor([positions.length, R]);
  const sin = refTensor([positions.length, R]);
  for (let i = 0; i < cos.data.length; i++) {
    const [t, d] = unravel(i, cos.shape) as [number, number];
    const angle = positions[t]! / theta ** ((2 * (d % (R / 2))) / R);
    cos.data[i] = Math.cos(angle);
    sin.data[i] = Math.sin(angle);
  }
  return { cos, sin };
}

/** Vaswani et al.: PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)). */
export function refSinusoidalPositions(T: number, d: number): RefTensor {
  const out = refTensor([T, d]);
  for (let i = 0; i < out.data.length; i++) {
    const [pos, c] = unravel(i, out.shape) as [number, number];
    const angle = pos / 10000 ** ((2 * Math.floor(c / 2)) / d);
    out.data[i] = c % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
  }
  return out;
}
