/**
 * Reading 16-bit storage (f16, bf16) in WGSL: buffers of u32 words, element e in word e / 2 (low
 * half first, little-endian as the checkpoint stores it), widened to f32 on load. Both widenings
 * are exact and use core WGSL only, so no `shader-f16` feature is needed:
 * - bf16 is the top half of an f32: `bitcast<f32>(bits << 16)`;
 * - f16 through `unpack2x16float`, which yields every f16 value (subnormals included) as an f32.
 */
import { isHalf, type DType, type HalfDType } from '../view.js';

/** The WGSL element type a buffer of `dtype` is declared with (16-bit storage: u32 words). */
export function storageType(dtype: DType): string {
  return isHalf(dtype) ? 'u32' : dtype;
}

/** Name of the WGSL function that widens element `e` of a 16-bit buffer, given its word. */
function decoderName(dtype: HalfDType): string {
  return dtype === 'bf16' ? 'widen_bf16' : 'widen_f16';
}

/** The WGSL function `widen_<dtype>(word, e) -> f32`: element e's half of `word`, widened. */
export function halfDecoder(dtype: HalfDType): string {
  const bits = '(word >> ((e & 1u) * 16u))';
  return dtype === 'bf16'
    ? `fn widen_bf16(word: u32, e: u32) -> f32 { return bitcast<f32>((${bits} & 0xffffu) << 16u); }`
    : `fn widen_f16(word: u32, e: u32) -> f32 { return unpack2x16float(${bits} & 0xffffu).x; }`;
}

/** The decoders a kernel over inputs of `dtypes` needs (none when every input is 32-bit). */
export function halfDecoders(dtypes: readonly DType[]): string[] {
  return [...new Set(dtypes.filter(isHalf))].map(halfDecoder);
}

/** WGSL expression: element `index` of buffer `array` of `dtype`, as f32 (or as stored, when 32-bit). */
export function loadElement(dtype: DType, array: string, index: string): string {
  if (!isHalf(dtype)) return `${array}[${index}]`;
  return `${decoderName(dtype)}(${array}[(${index}) >> 1u], ${index})`;
}

/** Name of the WGSL function that widens four consecutive 16-bit elements (two words) to a vec4<f32>. */
export function quadDecoderName(dtype: HalfDType): string {
  return dtype === 'bf16' ? 'widen4_bf16' : 'widen4_f16';
}

/** The WGSL function `widen4_<dtype>(words: vec2<u32>) -> vec4<f32>`: four elements, low half first. */
export function halfQuadDecoder(dtype: HalfDType): string {
  return dtype === 'bf16'
    ? 'fn widen4_bf16(w: vec2<u32>) -> vec4<f32> { return vec4<f32>(bitcast<f32>(w.x << 16u), bitcast<f32>(w.x & 0xffff0000u), bitcast<f32>(w.y << 16u), bitcast<f32>(w.y & 0xffff0000u)); }'
    : 'fn widen4_f16(w: vec2<u32>) -> vec4<f32> { return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)); }';
}
