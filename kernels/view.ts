/**
 * What a kernel sees of a tensor: a buffer, and how to walk it. Kernels never keep views; the
 * autograd layer's Tensor implements this interface and owns the buffer's lifetime.
 */
import { runtime } from './runtime.js';
import { numel, shapeToString, type Shape } from './shape.js';

/**
 * Element types of GPU tensors. `f16` and `bf16` are storage types for model weights (two values
 * per 32-bit word, little-endian): kernels that read them widen each value to f32 exactly as they
 * load it, and no kernel writes them (docs/models.md, "16-bit weights").
 */
export type DType = 'f32' | 'i32' | 'f16' | 'bf16';

/** The 16-bit storage types. */
export type HalfDType = 'f16' | 'bf16';

/** Bytes one element of each dtype takes in a buffer. */
export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, i32: 4, f16: 2, bf16: 2 };

/** True for the 16-bit storage types, which kernels read (widened to f32) but never write. */
export function isHalf(dtype: DType): dtype is HalfDType {
  return dtype === 'f16' || dtype === 'bf16';
}

/** A strided view of a GPU buffer: what a kernel launcher reads. Tensors implement it. */
export interface GpuView {
  /** The buffer holding the elements (possibly shared with other views). */
  readonly buffer: GPUBuffer;
  /** The view's dimensions. */
  readonly shape: Shape;
  /** Element strides; 0 for broadcast dimensions. */
  readonly strides: readonly number[];
  /** Element offset of index [0, ..., 0] in `buffer`. */
  readonly offset: number;
  /** Element type. */
  readonly dtype: DType;
}

/** A freshly written, contiguous kernel result; the caller takes ownership of `buffer`. */
export interface KernelOutput {
  /** The result's buffer, from the pool; released by whoever wraps it (a Tensor's storage). */
  buffer: GPUBuffer;
  /** The result's dimensions; the buffer holds them row-major unless `strides` says otherwise. */
  shape: number[];
  /** Element type. */
  dtype: DType;
  /** Element strides of a dense result not laid out row-major (matmul's `memoryOrder`); absent: row-major. */
  strides?: number[];
}

/** Allocates a pooled output buffer, refusing sizes one binding cannot address. */
export function allocate(op: string, shape: Shape, dtype: DType): GPUBuffer {
  const bytes = numel(shape) * BYTES_PER_ELEMENT[dtype];
  const rt = runtime();
  if (bytes > rt.maxBindingBytes) {
    throw new Error(
      `${op}: a ${dtype} tensor of shape ${shapeToString(shape)} needs ${bytes} bytes, more than one GPU binding ` +
        `can address on this adapter (${rt.maxBindingBytes} bytes); split it (see docs/runtime.md)`,
    );
  }
  return rt.pool.acquire(bytes);
}

/** Throws unless the view is addressable by one binding. */
export function checkBindable(op: string, view: GpuView): void {
  if (view.buffer.size > runtime().maxBindingBytes) {
    throw new Error(`${op}: input buffer of ${view.buffer.size} bytes exceeds the adapter's binding limit`);
  }
}

export function isContiguous(view: Pick<GpuView, 'shape' | 'strides'>): boolean {
  let expected = 1;
  for (let i = view.shape.length - 1; i >= 0; i--) {
    const d = view.shape[i]!;
    if (d !== 1 && view.strides[i] !== expected) return false;
    expected *= d;
  }
  return true;
}

/** Bit-casts an f32 into the u32 parameter block. */
const scratch = new DataView(new ArrayBuffer(4));
export function f32Bits(value: number): number {
  scratch.setFloat32(0, value, true);
  return scratch.getUint32(0, true);
}
