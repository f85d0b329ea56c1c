/**
 * Streaming weight upload: each checkpoint tensor goes to the GPU in pieces of at most
 * `PIECE_BYTES` of file data, read with `Checkpoint.readTensorBytes`, checked, converted when the
 * stored and the GPU dtype differ, and copied through the runtime's upload staging (awaiting
 * `uploadRoom`, so a few 4 MiB staging buffers serve the whole load). No whole-tensor host copy
 * exists at any time (except for GPT-2's Conv1D matrices, which are read whole and are small),
 * so the host memory a load needs beyond the GPU buffers is a few pieces.
 *
 * F16 and BF16 matrices that the model reads only through products and lookups stay 16-bit on
 * the GPU (`halfStorage` parameters) unless `dtype: 'f32'` is asked for; everything else is
 * stored as f32. Both widenings are exact, so the two storages compute the same numbers.
 */
import { Storage } from '../autograd/storage.js';
import { Tensor } from '../autograd/tensor.js';
import { InputError } from '../kernels/errors.js';
import type { GpuRuntime } from '../kernels/runtime.js';
import { elementwise } from '../kernels/elementwise.js';
import type { DType, GpuView } from '../kernels/view.js';
import type { Parameter } from './module.js';
import { float16Table, type Checkpoint, type CheckpointTensorInfo } from './safetensors.js';

/** How weights are held on the GPU: `auto` keeps F16/BF16 matrices 16-bit, `f32` widens every weight. */
export type WeightDtype = 'auto' | 'f32';

/** The accepted values of `LoadOptions.dtype` and `--dtype`. */
export const LOAD_DTYPES: readonly WeightDtype[] = ['auto', 'f32'];

/** Throws InputError unless `value` is a WeightDtype (library callers may pass anything). */
export function checkWeightDtype(value: unknown, what = 'dtype'): WeightDtype {
  if (value === 'auto' || value === 'f32') return value;
  throw new InputError(`${what} must be ${LOAD_DTYPES.join(' or ')}, got ${JSON.stringify(value)}`);
}

/** File bytes read per piece: large enough for few reads, small enough to stay out of the RSS. */
const PIECE_BYTES = 4 << 20;

/** A parameter paired with the checkpoint tensor that fills it. */
export interface UploadItem {
  param: Parameter;
  info: CheckpointTensorInfo;
}

/** The GPU dtype a parameter gets for a stored tensor. */
export function gpuDtypeFor(item: UploadItem, dtype: WeightDtype): DType {
  const { param, info } = item;
  if (dtype === 'auto' && param.spec.halfStorage && param.spec.shape.length === 2) {
    if (info.dtype === 'BF16') return 'bf16';
    if (info.dtype === 'F16') return 'f16';
  }
  return 'f32';
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Bytes a tensor of `elements` values takes on the GPU in `dtype` (16-bit rounded up to whole words). */
function gpuBytes(elements: number, dtype: DType): number {
  return dtype === 'f32' ? elements * 4 : Math.ceil(elements / 2) * 4;
}

/** Total GPU bytes the weights will take (for progress reports). */
export function plannedBytes(items: readonly UploadItem[], dtype: WeightDtype): number {
  return items.reduce((n, item) => n + gpuBytes(numel(item.param.spec.shape), gpuDtypeFor(item, dtype)), 0);
}

/** How `uploadWeights` stores, names and reports. */
export interface UploadOptions {
  /** How the GPU holds the weights (see `WeightDtype`). */
  dtype: WeightDtype;
  /** Names the checkpoint in errors. */
  source: string;
  /** Called after each tensor, with the GPU bytes uploaded so far and in all. */
  onProgress?: (loadedBytes: number, totalBytes: number, tensor: string) => void;
}

/**
 * Uploads every item's tensor into its parameter. A tensor larger than one binding becomes row
 * blocks (Parameter.setShards). Throws InputError on a non-finite value; what was uploaded stays
 * owned by the parameters (the caller disposes the model).
 */
export async function uploadWeights(rt: GpuRuntime, checkpoint: Checkpoint, items: readonly UploadItem[], options: UploadOptions): Promise<void> {
  const totalBytes = plannedBytes(items, options.dtype);
  let loadedBytes = 0;
  for (const item of items) {
    const target = gpuDtypeFor(item, options.dtype);
    const tensors = item.param.spec.transposeOnLoad
      ? [await uploadTransposed(rt, checkpoint, item, target, options.source)]
      : await uploadStreamed(rt, checkpoint, item, target, options.source);
    if (tensors.length > 1) item.param.setShards(tensors);
    else item.param.set(tensors[0]!);
    loadedBytes += gpuBytes(numel(item.param.spec.shape), target);
    options.onProgress?.(loadedBytes, totalBytes, item.info.name);
  }
}

/**
 * Streams a tensor stored in the module's own layout; a matrix whose f32 form is larger than one
 * binding becomes row blocks (each its own buffer, so every block starts on a whole word in
 * 16-bit storage too). 16-bit blocks are sized for f32 as well: a product widens its block into
 * an f32 copy, which must fit one binding.
 */
async function uploadStreamed(rt: GpuRuntime, checkpoint: Checkpoint, item: UploadItem, target: DType, source: string): Promise<Tensor[]> {
  const shape = item.param.spec.shape;
  const total = numel(shape);
  if (shape.length !== 2 && gpuBytes(total, target) > rt.maxBindingBytes) {
    throw new InputError(`${source}: tensor ${item.info.name} (${gpuBytes(total, target)} bytes) exceeds the adapter's binding limit and is not a matrix that can be split`);
  }
  const blocks = planRowBlocks(shape, rt.maxBindingBytes);
  const tensors: Tensor[] = [];
  try {
    for (const [first, blockShape] of blocks) {
      const tensor = allocateTensor(rt, blockShape, target);
      tensors.push(tensor);
      await streamInto(rt, checkpoint, item.info, first, numel(blockShape), tensor, source);
    }
  } catch (error) {
    for (const t of tensors) t.free();
    throw error;
  }
  return tensors;
}

/**
 * The blocks a parameter is stored in, as [first element, block shape]: one block, or for a
 * matrix whose f32 form exceeds `maxBindingBytes`, row blocks that each fit it as f32 (whatever
 * the storage dtype: a product widens a 16-bit block to f32).
 */
export function planRowBlocks(shape: readonly number[], maxBindingBytes: number): [first: number, shape: number[]][] {
  if (shape.length !== 2 || numel(shape) * 4 <= maxBindingBytes) return [[0, [...shape]]];
  const [rows, cols] = shape as [number, number];
  const perBlock = Math.max(1, Math.floor(maxBindingBytes / (cols * 4)));
  const blocks: [number, number[]][] = [];
  for (let r = 0; r < rows; r += perBlock) blocks.push([r * cols, [Math.min(perBlock, rows - r), cols]]);
  return blocks;
}

function allocateTensor(rt: GpuRuntime, shape: readonly number[], dtype: DType): Tensor {
  // Exact size: weights live as long as the model, and size classes would add up to 25%.
  const buffer = rt.pool.acquireExact(gpuBytes(numel(shape), dtype));
  return new Tensor(new Storage(buffer), shape, dtype);
}

const STORED_BYTES: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2 };

/**
 * Copies elements [first, first + count) of the stored tensor into `tensor` (from its element 0),
 * piece by piece. Pieces hold an even number of elements, so 16-bit pieces land on whole words.
 */
async function streamInto(rt: GpuRuntime, checkpoint: Checkpoint, info: CheckpointTensorInfo, first: number, count: number, tensor: Tensor, source: string): Promise<void> {
  const storedBytes = STORED_BYTES[info.dtype]!;
  const perPiece = Math.max(2, Math.floor(PIECE_BYTES / storedBytes / 2) * 2);
  const outBytes = tensor.dtype === 'f32' ? 4 : 2;
  for (let done = 0; done < count; done += perPiece) {
    const n = Math.min(perPiece, count - done);
    const begin = (first + done) * storedBytes;
    const raw = aligned(await checkpoint.readTensorBytes(info.name, begin, begin + n * storedBytes));
    const data = convertPiece(raw, info.dtype, tensor.dtype, info.name, first + done, source);
    const piece = padToWord(data);
    await rt.uploadRoom(piece.byteLength);
    rt.upload(tensor.buffer, piece, done * outBytes);
  }
}

/** The piece as the GPU stores it: 16-bit bits kept as they are, or values widened to f32. */
function convertPiece(raw: Uint8Array, stored: string, target: DType, name: string, firstElement: number, source: string): Uint8Array {
  if (stored === 'F32') {
    const values = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    checkFiniteF32(values, name, firstElement, source);
    return raw;
  }
  const bits = new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
  checkFiniteHalf(bits, stored === 'BF16' ? 0x7f80 : 0x7c00, stored, name, firstElement, source);
  if (target !== 'f32') return raw;
  const out = new Uint32Array(bits.length);
  if (stored === 'BF16') for (let i = 0; i < bits.length; i++) out[i] = bits[i]! << 16;
  else {
    const f = new Float32Array(out.buffer);
    const table = float16Table();
    for (let i = 0; i < bits.length; i++) f[i] = table[bits[i]!]!;
  }
  return new Uint8Array(out.buffer);
}

/** The bytes at a 4-byte-aligned address (typed views need it); a copy only when they are not. */
function aligned(raw: Uint8Array): Uint8Array {
  return raw.byteOffset % 4 === 0 ? raw : raw.slice();
}

function padToWord(data: Uint8Array): Uint8Array {
  if (data.byteLength % 4 === 0) return data;
  const padded = new Uint8Array(data.byteLength + (4 - (data.byteLength % 4)));
  padded.set(data);
  return padded;
}

function checkFiniteF32(values: Float32Array, name: string, firstElement: number, source: string): void {
  // A float64 sum of f32 values is finite exactly when every term is (it cannot overflow at these
  // lengths): one add per element, about twice as fast here as testing each element's bits,
  // which only a non-finite sum needs, to name the element.
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  if (Number.isFinite(sum)) return;
  // Int32, not Uint32: words ≥ 2³¹ would leave V8's small-integer path.
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i]! & 0x7f800000) === 0x7f800000) throw nonFinite(source, name, values[i]!, firstElement + i);
  }
}

/**
 * An exponent field of all ones is ±Infinity or NaN in both 16-bit formats. Checked two values
 * per 32-bit word: adding the field's lowest bit to each half carries into that half's top bit
 * only when its field is all ones (the loader's time goes to fresh memory; this halves its own).
 */
function checkFiniteHalf(bits: Uint16Array, exponentMask: number, stored: string, name: string, firstElement: number, source: string): void {
  const pairs = bits.byteOffset % 4 === 0 ? bits.length >> 1 : 0;
  const words = new Int32Array(bits.buffer, bits.byteOffset, pairs);
  const mask = exponentMask * 0x10001;
  const carry = (exponentMask & -exponentMask) * 0x10001;
  for (let i = 0; i < pairs; i++) {
    if ((((words[i]! & mask) + carry) & 0x80008000) !== 0) checkFiniteHalfEach(bits, 2 * i, 2 * i + 2, exponentMask, stored, name, firstElement, source);
  }
  checkFiniteHalfEach(bits, 2 * pairs, bits.length, exponentMask, stored, name, firstElement, source);
}

function checkFiniteHalfEach(bits: Uint16Array, from: number, to: number, exponentMask: number, stored: string, name: string, firstElement: number, source: string): void {
  for (let i = from; i < to; i++) {
    if ((bits[i]! & exponentMask) === exponentMask) {
      const value = stored === 'BF16' ? new Float32Array(new Uint32Array([bits[i]! << 16]).buffer)[0]! : float16Table()[bits[i]!]!;
      throw nonFinite(source, name, value, firstElement + i);
    }
  }
}

/** A weight like that makes every output NaN: refuse the checkpoint, naming the element. */
function nonFinite(source: string, name: string, value: number, element: number): InputError {
  return new InputError(`${source}: tensor ${name} holds a non-finite value (${value}) at element ${element}`);
}

/**
 * GPT-2's Conv1D matrices are stored [in, out] and used [out, in]: read whole (they are small: the
 * largest in GPT-2 XL is 39 MiB in f32) and uploaded in pieces, then transposed by a copy kernel
 * into their own buffer when f32, or transposed on the host before the upload when 16-bit.
 */
async function uploadTransposed(rt: GpuRuntime, checkpoint: Checkpoint, item: UploadItem, target: DType, source: string): Promise<Tensor> {
  const [rows, cols] = item.info.shape as [number, number];
  const raw = aligned(await checkpoint.readTensorBytes(item.info.name));
  const data = convertPiece(raw, item.info.dtype, target, item.info.name, 0, source);
  const size = target === 'f32' ? 4 : 2;
  if (rows * cols * size > rt.maxBindingBytes) {
    throw new InputError(`${source}: tensor ${item.info.name} (${rows * cols * size} bytes, transposed on load) exceeds the adapter's binding limit`);
  }
  const tensor = allocateTensor(rt, [cols, rows], target);
  if (size === 4) {
    // f32: uploaded as stored, then transposed by a copy kernel on the GPU (the host transpose
    // was the largest part of a GPT-2 load's main-thread time).
    const stored = rt.pool.acquire(rows * cols * 4);
    try {
      await uploadPieces(rt, stored, new Uint8Array(data.buffer, data.byteOffset, rows * cols * 4));
      const storedT: GpuView = { buffer: stored, shape: [cols, rows], strides: [1, cols], offset: 0, dtype: 'f32' };
      elementwise('copy', [storedT], [], { buffer: tensor.buffer, shape: [cols, rows], strides: [rows, 1], offset: 0, dtype: 'f32' });
    } finally {
      // Queued work runs in order: the copy has read `stored` before the pool hands it out again.
      rt.pool.release(stored);
    }
    return tensor;
  }
  const transposed = transpose(new Uint16Array(data.buffer, data.byteOffset, rows * cols), rows, cols);
  await uploadPieces(rt, tensor.buffer, new Uint8Array(transposed.buffer, transposed.byteOffset, rows * cols * size));
  return tensor;
}

/** Uploads `bytes` into `buffer` from its start, piece by piece, through the staging buffers. */
async function uploadPieces(rt: GpuRuntime, buffer: GPUBuffer, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.byteLength; done += PIECE_BYTES) {
    const piece = padToWord(bytes.subarray(done, Math.min(bytes.byteLength, done + PIECE_BYTES)));
    await rt.uploadRoom(piece.byteLength);
    rt.upload(buffer, piece, done);
  }
}

/** Tile edge of the transpose: a tile's rows and columns stay in cache (row by row, every write misses). */
const TILE = 32;

function transpose(data: Uint16Array, rows: number, cols: number): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = data[r * cols + c]!;
    }
  }
  return out;
}
