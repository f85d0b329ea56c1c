/**
 * B packed by `packIntoTexture` (kernels/packTexture.ts) into an rgba32float texture array:
 * texel (x, k, layer) holds B[layer][k][4x … 4x+3]. Lavapipe reads it through its texel-fetch
 * code instead of the per-lane, bounds-checked loads it makes of a buffer read
 * (docs/benchmarks.md). Texels past the last column are clamped by the texture's bounds and only
 * feed columns that are never stored.
 */
import { range, type MatmulSpec } from '../spec.js';
import type { OperandReader } from './reader.js';

/** Reads B from its packed texture, one texel (4 columns) per column group and K step. */
export function textureB(s: MatmulSpec): OperandReader {
  const J = s.v.cols / 4;
  return {
    binding: { name: 'B', access: 'read', type: 'vec4<f32>', texture: true },
    setup: range(J).map((j) => `  let bx${j} = col0 / 4u + ${j}u;`),
    load: (kks, indent) => kks.flatMap((kk) => range(J).map((j) => `${indent}let b${kk}_${j} = textureLoad(B, vec2<u32>(bx${j}, k + ${kk}u), ob);`)),
    at: () => (kk, j) => `b${kk}_${j}`,
  };
}
