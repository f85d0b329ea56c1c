/**
 * B packed with texels along K (`packIntoTexture` of Bᵀ): texel (x, n, layer) holds
 * B[layer][4x … 4x+3][n]. A B that is contiguous along K (a weight W stored [out, in] read as Wᵀ,
 * or x packed for Cᵀ = Bᵀ·Aᵀ) packs this way with a plain copy instead of a transpose; the kernel
 * makes the same number of texel reads as with texels along N (one per column and 4 steps of K).
 * Columns past N read texels outside the texture (zero or any texel, per WGSL) that only feed
 * columns that are never stored; steps past K read the zeros the packing wrote.
 */
import { range, vec4Of, type MatmulSpec } from '../spec.js';
import type { OperandReader } from './reader.js';

/** Reads B from its texture packed along K: one texel per column per 4 steps of K. */
export function textureBAlongK(s: MatmulSpec): OperandReader {
  const RN = s.v.cols;
  return {
    binding: { name: 'B', access: 'read', type: 'vec4<f32>', texture: true },
    setup: [],
    // The 4-step loop and the 1-step tail both read the texel holding step k.
    load: (_kks, indent) => range(RN).map((c) => `${indent}let b${c} = textureLoad(B, vec2<u32>(k / 4u, col0 + ${c}u), ob);`),
    at: (step4) => (kk, j) => vec4Of(range(4).map((q) => (step4 ? `b${j * 4 + q}[${kk}]` : `b${j * 4 + q}[k % 4u]`))),
  };
}
