/**
 * Tensor: a strided view of a reference-counted GPU buffer, plus its place in the autodiff graph.
 * Computation lives in the op modules; this class only holds data and graph links.
 */
import { runtime } from '../kernels/runtime.js';
import { contiguousStrides, numel, shapeToString, type Shape } from '../kernels/shape.js';
import { BYTES_PER_ELEMENT, isContiguous, isHalf, type DType, type GpuView, type HalfDType } from '../kernels/view.js';
import { elementwise } from '../kernels/elementwise.js';
import { Storage } from './storage.js';
import { track, type Disposable } from './scope.js';
import type { Node } from './graph.js';

/** The host array type of a dtype's elements: Int32Array for i32, Float32Array for f32. */
export type TypedArrayFor<D extends DType> = D extends 'i32' ? Int32Array : Float32Array;
/**
 * A number or arbitrarily nested arrays of numbers, as `Tensor.fromArray` accepts (rectangular: the shape is inferred).
 */
export type NestedArray = number | NestedArray[];

let nextTensorId = 1;

/**
 * A strided view of a reference-counted GPU buffer (f32 or i32), and its place in the autodiff graph.
 * Create tensors with `Tensor.fromArray`, `zeros`/`full` or ops; free them with `dispose()` or `tidy`.
 */
export class Tensor implements GpuView, Disposable {
  /** Unique per process, in creation order (for reports and debugging). */
  readonly id = nextTensorId++;
  /** Dimensions, outermost first; `[]` for a scalar. */
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  /** Element type: 'f32' for values, 'i32' for ids and indices (i32 tensors never record a graph). */
  readonly dtype: DType;
  /** True when gradients should flow to (leaf) or through (non-leaf) this tensor. */
  requiresGrad = false;
  /** Accumulated gradient: leaves always, non-leaves after `retainGrad()`. */
  grad: Tensor | null = null;
  /** The graph node that produced this tensor; null for leaves and constants. */
  node: Node | null = null;
  /** Keep `grad` on this non-leaf during backward. */
  retainsGrad = false;
  /** Optional name, shown in errors and graph reports. */
  name: string | undefined;
  private storageRef: Storage | null;

  /** Internal: wraps a storage. Use `Tensor.fromArray`, `zeros`, or ops to create tensors. */
  constructor(storage: Storage, shape: Shape, dtype: DType, strides?: readonly number[], offset = 0, tracked = true) {
    this.storageRef = storage;
    this.shape = [...shape];
    this.strides = strides ? [...strides] : contiguousStrides(shape);
    this.offset = offset;
    this.dtype = dtype;
    if (tracked) track(this);
  }

  /**
   * A second handle on the same data that holds its own reference and is not tracked by `tidy`:
   * what graph nodes save, so backward still works after the original tensor is disposed.
   */
  savedAlias(): Tensor {
    const storage = this.storage;
    storage.retain();
    const alias = new Tensor(storage, this.shape, this.dtype, this.strides, this.offset, false);
    alias.requiresGrad = this.requiresGrad;
    alias.name = this.name;
    return alias;
  }

  /**
   * A 16-bit tensor from its stored bit patterns (f16 or bf16, one element per entry of `bits`),
   * as a checkpoint holds them; kernels that read it widen each value to f32 exactly.
   */
  static fromHalfBits(bits: Uint16Array, shape: Shape, dtype: HalfDType): Tensor {
    if (numel(shape) !== bits.length) throw new Error(`fromHalfBits: ${bits.length} values do not fill shape ${shapeToString(shape)}`);
    const rt = runtime();
    const bytes = bits.length * 2;
    if (bytes > rt.maxBindingBytes) throw new Error(`fromHalfBits: ${bytes} bytes exceed the adapter's binding limit of ${rt.maxBindingBytes}; split the tensor`);
    // Uploads move whole 32-bit words: an odd count is padded with one zero half.
    const padded = new Uint16Array(bits.length + (bits.length % 2));
    padded.set(bits);
    const buffer = rt.pool.acquire(bytes);
    rt.upload(buffer, new Uint8Array(padded.buffer));
    return new Tensor(new Storage(buffer), shape, dtype);
  }

  /** Uploads host data. `data` may be flat (with `shape`) or nested arrays (shape inferred). */
  static fromArray(data: ArrayLike<number> | NestedArray, shape?: Shape, dtype: DType = 'f32'): Tensor {
    let flat: ArrayLike<number>;
    let inferred: number[];
    if (typeof data === 'number') {
      flat = [data];
      inferred = [];
    } else if (Array.isArray(data) && data.some((d) => Array.isArray(d))) {
      inferred = inferShape(data);
      flat = (data as unknown[]).flat(Infinity) as number[];
    } else {
      flat = data as ArrayLike<number>;
      inferred = [flat.length];
    }
    const finalShape = shape ? [...shape] : inferred;
    if (numel(finalShape) !== flat.length) {
      throw new Error(`fromArray: ${flat.length} values do not fill shape ${shapeToString(finalShape)}`);
    }
    for (const d of finalShape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`fromArray: invalid shape ${shapeToString(finalShape)}`);
    }
    if (isHalf(dtype)) throw new Error(`fromArray: ${dtype} tensors are made from their stored bits (Tensor.fromHalfBits)`);
    const rt = runtime();
    const bytes = flat.length * BYTES_PER_ELEMENT[dtype];
    if (bytes > rt.maxBindingBytes) {
      throw new Error(`fromArray: ${bytes} bytes exceed the adapter's binding limit of ${rt.maxBindingBytes}; split the tensor`);
    }
    // Converted (and checked) on the host first, so a bad value leaves nothing behind on the GPU.
    let host: Float32Array | Int32Array;
    if (dtype === 'i32') {
      host = new Int32Array(flat.length);
      for (let i = 0; i < flat.length; i++) {
        const v = flat[i]!;
        if (!Number.isInteger(v)) throw new Error(`fromArray: i32 tensor got non-integer value ${v} at ${i}`);
        host[i] = v;
      }
    } else {
      host = flat instanceof Float32Array ? flat : Float32Array.from(flat);
    }
    // A pooled buffer, filled by a recorded copy from the runtime's upload staging (docs/runtime.md).
    const buffer = rt.pool.acquire(bytes);
    rt.upload(buffer, new Uint8Array(host.buffer, host.byteOffset, bytes));
    return new Tensor(new Storage(buffer), finalShape, dtype);
  }

  /** The reference-counted buffer behind this view; throws once the tensor is disposed. */
  get storage(): Storage {
    if (!this.storageRef) throw new Error(`Tensor${this.name ? ` '${this.name}'` : ''} ${shapeToString(this.shape)} was disposed`);
    return this.storageRef;
  }

  /** The GPU buffer behind this view (shared with other views); throws once the tensor is disposed. */
  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }

  /** Number of elements (1 for a scalar). */
  get size(): number {
    return numel(this.shape);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** True after `dispose()`: the tensor no longer holds its buffer. */
  get disposed(): boolean {
    return this.storageRef === null;
  }

  /**
   * True when no recorded op produced this tensor (inputs, parameters, constants): backward fills `grad` here.
   */
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** True when the elements are laid out row-major without gaps, so kernels may read it flat. */
  get contiguous(): boolean {
    return isContiguous(this);
  }

  /**
   * Disposes the tensor; once no view or saved graph handle holds its storage any more, the
   * buffer is destroyed rather than pooled (model weights: large, and not reused once the model
   * is gone).
   */
  free(): void {
    this.storageRef?.destroyOnRelease();
    this.dispose();
  }

  /** Releases this tensor's hold on its buffer (idempotent). Graph nodes keep their own hold. */
  dispose(): void {
    if (this.storageRef) {
      this.storageRef.release();
      this.storageRef = null;
    }
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** Marks a leaf as needing gradients; returns `this`. */
  setRequiresGrad(flag = true): this {
    if (!this.isLeaf && !flag) throw new Error('setRequiresGrad(false) on a non-leaf: use detach()');
    if (flag && this.dtype !== 'f32') throw new Error(`only f32 tensors can require gradients (got ${this.dtype})`);
    this.requiresGrad = flag;
    return this;
  }

  /** Keeps `grad` on this non-leaf tensor during backward. */
  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  /** Copies the data back to the host, in logical (row-major) order (16-bit storage widened to f32). */
  async toArray(): Promise<Float32Array | Int32Array> {
    return (await Tensor.toArrays([this]))[0]!;
  }

  /**
   * The values of several tensors, read back in one submit (`toArray` on each would wait for the
   * GPU once per tensor): f32 for float (and 16-bit) tensors, i32 for i32 ones.
   */
  static async toArrays(tensors: readonly Tensor[]): Promise<(Float32Array | Int32Array)[]> {
    const temps: GPUBuffer[] = [];
    try {
      const sources = tensors.map((t): GpuView => {
        if (t.contiguous && !isHalf(t.dtype)) return t;
        // A copy materialises the view; of 16-bit storage it is the exact f32 widening.
        const copy = elementwise('copy', [t]);
        temps.push(copy.buffer);
        return { buffer: copy.buffer, shape: t.shape, strides: contiguousStrides(t.shape), offset: 0, dtype: copy.dtype };
      });
      const data = await runtime().readMany(
        sources.map((v) => ({ buffer: v.buffer, offset: v.offset * BYTES_PER_ELEMENT[v.dtype], bytes: numel(v.shape) * BYTES_PER_ELEMENT[v.dtype] })),
      );
      return data.map((d, k) => (sources[k]!.dtype === 'i32' ? new Int32Array(d) : new Float32Array(d)));
    } finally {
      for (const temp of temps) runtime().pool.release(temp);
    }
  }

  /** Nested arrays (for small tensors and tests). */
  async toNested(): Promise<NestedArray> {
    const flat = Array.from(await this.toArray());
    if (this.rank === 0) return flat[0]!;
    const build = (dim: number, start: number): NestedArray[] => {
      const out: NestedArray[] = [];
      const inner = numel(this.shape.slice(dim + 1));
      for (let i = 0; i < this.shape[dim]!; i++) {
        out.push(dim === this.rank - 1 ? flat[start + i]! : build(dim + 1, start + i * inner));
      }
      return out;
    };
    return build(0, 0);
  }

  /** Reads a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor has ${this.size} elements, not 1`);
    return (await this.toArray())[0]!;
  }

  /** A short description; use `format()` for the values. */
  toString(): string {
    const flags = [this.requiresGrad ? 'requiresGrad' : '', this.node ? `op=${this.node.op}` : ''].filter(Boolean).join(', ');
    return `Tensor(${this.dtype}${shapeToString(this.shape)}${flags ? `, ${flags}` : ''})`;
  }

  /** The values, formatted like NumPy, for tensors of up to `maxElements` elements. */
  async format(maxElements = 1000): Promise<string> {
    if (this.size > maxElements) return `${this.toString()} (${this.size} elements, not shown)`;
    const fmt = (v: NestedArray): string =>
      Array.isArray(v) ? `[${v.map(fmt).join(', ')}]` : this.dtype === 'i32' ? String(v) : Number(v).toPrecision(5).replace(/\.?0+$/, '');
    return `tensor(${fmt(await this.toNested())}, shape=${shapeToString(this.shape)}, dtype=${this.dtype})`;
  }
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0] ?? 0;
    if (shape[shape.length - 1] === 0) break;
  }
  return shape;
}
