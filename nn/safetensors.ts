/**
 * Reads Hugging Face safetensors checkpoints: one file, or shards listed by
 * model.safetensors.index.json. Tensors come out as Float32Array whatever their stored dtype.
 *
 * File layout: u64 little-endian header length N, N bytes of UTF-8 JSON header
 * ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}),
 * then the data buffer; offsets are relative to the start of the data buffer.
 *
 * Resource policy: the header length is checked against MAX_HEADER_BYTES before anything is
 * allocated for it; the shard index is a bounded regular file whose entries must name files inside
 * the checkpoint folder.
 *
 * Validation policy: every entry must have a known dtype, a shape of non-negative integers,
 * and offsets inside the data buffer whose length equals numel(shape) x dtype size.
 * Overlapping byte ranges are rejected (two tensors sharing bytes is a corrupt or hostile
 * file). Header order, gaps between tensors and trailing bytes are accepted; the Rust
 * reference reader rejects gaps, but nothing here depends on contiguity.
 */

import { InputError } from '../kernels/errors.js';
import { MAX_FILE_BYTES, readJson, unsafeFileName, type ModelSource, type RandomAccessFile } from './source.js';

/** The element types a safetensors header may declare (the loader accepts F32, F16 and BF16 weights). */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** One tensor as the header describes it. */
export interface TensorInfo {
  /** The tensor's name (the Hugging Face parameter name). */
  readonly name: string;
  /** Stored element type. */
  readonly dtype: SafetensorsDtype;
  /** Dimensions ([] for a scalar). */
  readonly shape: readonly number[];
  /** [begin, end) in bytes, relative to the start of the data buffer. */
  readonly dataOffsets: readonly [number, number];
}

/** A parsed safetensors header: where the data starts, the tensors and the free-form metadata. */
export interface SafetensorsHeader {
  /** The file's name, for error messages. */
  readonly fileName: string;
  /** Byte position of the data buffer in the file (8 + header length). */
  readonly dataStart: number;
  /** Tensors by name. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** The header's `__metadata__` (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** A whole safetensors file held in memory. */
export interface SafetensorsFile extends SafetensorsHeader {
  /** The tensor's values as float32 (F16/BF16 widened exactly; F64 and integers rounded). */
  getFloat32(name: string): Float32Array;
  /** The tensor's stored bytes (a view into the file's bytes, not a copy). */
  getBytes(name: string): Uint8Array;
}

/** A tensor of a (possibly sharded) checkpoint, with the file that holds it. */
export interface CheckpointTensorInfo extends TensorInfo {
  /** The file, relative to the checkpoint directory, that holds this tensor. */
  readonly fileName: string;
}

/** A checkpoint whose headers are parsed; tensor data is read from its source on demand. */
export interface Checkpoint {
  /** The checkpoint's folder, or the label of its source (a URL, a name for in-memory files). */
  readonly dir: string;
  /** The .safetensors files the tensors come from, sorted by name. */
  readonly files: readonly string[];
  /** Every tensor of every file, by name. */
  readonly tensors: ReadonlyMap<string, CheckpointTensorInfo>;
  /**
   * Reads a tensor's values as float32 (F16/BF16 widened exactly); throws a SafetensorsError for an unknown name.
   */
  getFloat32(name: string): Promise<Float32Array>;
  /**
   * Bytes `[begin, end)` of the tensor's stored data (offsets relative to the tensor's first
   * byte, default: all of it), as stored: little-endian, in the tensor's dtype. Lets a loader
   * stream a large tensor in pieces instead of holding it whole. From an in-memory source the
   * result may be a view into the caller's bytes, at any byte offset: copy before reinterpreting
   * it as a typed array that needs alignment, and never write to it.
   */
  readTensorBytes(name: string, begin?: number, end?: number): Promise<Uint8Array>;
}

/** Every problem with a checkpoint's bytes or layout; the message names the file and tensor. */
export class SafetensorsError extends InputError {
  /** Shown before the message (`SafetensorsError: …`) instead of the inherited `InputError`. */
  override name = 'SafetensorsError';
}

/**
 * The largest JSON header accepted, checked before it is read: the limit of the reference reader
 * (safetensors' MAX_HEADER_SIZE). Real headers are well under 1 MB.
 */
export const MAX_HEADER_BYTES = 100_000_000;

/** The file name of an unsharded checkpoint. */
export const SINGLE_FILE = 'model.safetensors';
/** The index file of a sharded checkpoint (tensor name → shard file). */
export const SHARD_INDEX = 'model.safetensors.index.json';

// ---------------------------------------------------------------------------------------------
// Header parsing and validation

/** Reads the u64 header length from the first 8 bytes; checks it fits in a file of `fileSize`. */
export function readHeaderLength(prefix: Uint8Array, fileName: string, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsError(`${fileName}: file is ${fileSize} bytes, too short for the 8-byte header length`);
  }
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${fileName}: header length ${length} is more than the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  if (length > BigInt(fileSize - 8)) {
    throw new SafetensorsError(
      `${fileName}: header length ${length} runs past the end of the file (${fileSize - 8} bytes after the prefix)`,
    );
  }
  return Number(length);
}

/** Parses and validates the JSON header; `dataLength` is the size of the data buffer after it. */
export function parseHeader(
  headerBytes: Uint8Array,
  fileName: string,
  dataLength: number,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const json = parseJsonObject(headerBytes, fileName);
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(value, fileName);
    else tensors.set(name, parseEntry(name, value, fileName, dataLength));
  }
  rejectOverlaps(tensors, fileName);
  return { tensors, metadata };
}

function parseJsonObject(headerBytes: Uint8Array, fileName: string): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(`${fileName}: header is not valid UTF-8`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`${fileName}: header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw new SafetensorsError(`${fileName}: header JSON is not an object`);
  return json;
}

function parseMetadata(value: unknown, fileName: string): Record<string, string> {
  if (!isPlainObject(value)) throw new SafetensorsError(`${fileName}: __metadata__ is not an object`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new SafetensorsError(`${fileName}: __metadata__.${key} is not a string`);
  }
  return value as Record<string, string>;
}

function parseEntry(name: string, value: unknown, fileName: string, dataLength: number): TensorInfo {
  const where = `${fileName}: tensor "${name}"`;
  if (!isPlainObject(value)) throw new SafetensorsError(`${where}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (dtype === undefined) throw new SafetensorsError(`${where}: missing dtype`);
  if (shape === undefined) throw new SafetensorsError(`${where}: missing shape`);
  if (offsets === undefined) throw new SafetensorsError(`${where}: missing data_offsets`);
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    throw new SafetensorsError(
      `${where}: unsupported dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(DTYPE_BYTES).join(', ')})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    throw new SafetensorsError(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
    throw new SafetensorsError(`${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataLength) {
    throw new SafetensorsError(
      `${where}: data_offsets [${begin}, ${end}] are out of range for a ${dataLength}-byte data buffer`,
    );
  }
  const typed = dtype as SafetensorsDtype;
  const expected = (shape as number[]).reduce((n, d) => n * d, 1) * DTYPE_BYTES[typed];
  if (end - begin !== expected) {
    throw new SafetensorsError(
      `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape [${shape.join(', ')}] ` +
        `of ${typed} needs ${expected}`,
    );
  }
  return { name, dtype: typed, shape: shape as number[], dataOffsets: [begin, end] };
}

function rejectOverlaps(tensors: ReadonlyMap<string, TensorInfo>, fileName: string): void {
  // Empty tensors own no bytes, so they cannot overlap anything.
  const ranges = [...tensors.values()]
    .filter((t) => t.dataOffsets[1] > t.dataOffsets[0])
    .sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0]);
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1]!;
    const next = ranges[i]!;
    if (next.dataOffsets[0] < prev.dataOffsets[1]) {
      throw new SafetensorsError(
        `${fileName}: tensors "${prev.name}" [${prev.dataOffsets.join(', ')}] and ` +
          `"${next.name}" [${next.dataOffsets.join(', ')}] overlap`,
      );
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegativeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

// ---------------------------------------------------------------------------------------------
// Dtype conversion

let halfTable: Float32Array | undefined;

/** All 65536 float16 bit patterns as float32 (exact), built once: a lookup beats bit math per element. */
export function float16Table(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) halfTable[h] = sign * mantissa * 2 ** -24; // zero and subnormals
    else if (exponent === 31) halfTable[h] = mantissa ? NaN : sign * Infinity;
    else halfTable[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return halfTable;
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Converts little-endian stored values of `dtype` to a Float32Array. With `reuse`, F32 bytes that
 * the caller owns (and that are 4-byte aligned) are viewed in place instead of copied, which saves
 * a second host copy of every weight while a checkpoint loads.
 */
export function decodeToFloat32(bytes: Uint8Array, dtype: SafetensorsDtype, reuse = false): Float32Array {
  const n = bytes.length / DTYPE_BYTES[dtype];
  if (reuse && dtype === 'F32' && HOST_IS_LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  }
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  switch (dtype) {
    case 'F32':
      if (HOST_IS_LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
      else for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 'F16': {
      const table = float16Table();
      for (let i = 0; i < n; i++) out[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift the 16 bits up and reinterpret.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = ((bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16) >>> 0;
      return out;
    }
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      return out;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true);
      return out;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      return out;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = bytes[i]!;
      return out;
  }
}

// ---------------------------------------------------------------------------------------------
// In-memory files

/** Parses a whole .safetensors file held in memory; `fileName` only labels errors. */
export function parseSafetensors(bytes: Uint8Array, fileName: string): SafetensorsFile {
  const headerLength = readHeaderLength(bytes, fileName, bytes.length);
  const dataStart = 8 + headerLength;
  const { tensors, metadata } = parseHeader(bytes.subarray(8, dataStart), fileName, bytes.length - dataStart);
  const getBytes = (name: string): Uint8Array => {
    const info = lookup(tensors, name, fileName);
    return bytes.subarray(dataStart + info.dataOffsets[0], dataStart + info.dataOffsets[1]);
  };
  return {
    fileName,
    dataStart,
    tensors,
    metadata,
    getBytes,
    getFloat32: (name) => decodeToFloat32(getBytes(name), lookup(tensors, name, fileName).dtype),
  };
}

function lookup<T>(tensors: ReadonlyMap<string, T>, name: string, source: string): T {
  const info = tensors.get(name);
  if (!info) throw new SafetensorsError(`${source}: no tensor named "${name}"`);
  return info;
}

// ---------------------------------------------------------------------------------------------
// Checkpoints from any ModelSource (a folder: nn/folderSource.ts; memory or a URL: nn/source.ts)

/**
 * Opens a Hugging Face checkpoint: model.safetensors if present (as transformers prefers it),
 * else model.safetensors.index.json and its shards. Only headers are read here; getFloat32 and
 * readTensorBytes read one tensor's bytes on demand, so multi-GB checkpoints need not fit in
 * memory twice (and files over Node's 2 GiB readFile limit still load).
 */
export async function openCheckpoint(source: ModelSource): Promise<Checkpoint> {
  const dir = source.label;
  const indexPath = source.locate(SHARD_INDEX);
  // null for a single file; otherwise the index's tensor name -> shard file name.
  let weightMap: Map<string, string> | null;
  if (await source.exists(SINGLE_FILE)) {
    weightMap = null;
  } else if (await source.exists(SHARD_INDEX)) {
    weightMap = parseShardIndex(await readJson(source, SHARD_INDEX, 'the shard index', MAX_FILE_BYTES.shardIndex), indexPath);
  } else throw new SafetensorsError(`${dir}: neither ${SINGLE_FILE} nor ${SHARD_INDEX} found`);
  const fileNames = weightMap ? [...new Set(weightMap.values())].sort() : [SINGLE_FILE];

  const files = new Map<string, { file: RandomAccessFile; header: SafetensorsHeader }>();
  for (const fileName of fileNames) {
    if (weightMap) {
      const unsafe = unsafeFileName(fileName);
      if (unsafe) throw new SafetensorsError(`${indexPath}: shard ${JSON.stringify(fileName)} ${unsafe}`);
      await source.checkReferencedName?.(fileName, SHARD_INDEX);
      if (!(await source.exists(fileName))) {
        throw new SafetensorsError(`${indexPath}: references shard ${fileName}, which does not exist or is not a regular file`);
      }
    }
    const file = await source.openFile(fileName, weightMap ? 'a shard of the checkpoint' : 'the checkpoint');
    files.set(fileName, { file, header: await readHeaderOf(file, source.locate(fileName), fileName) });
  }

  const tensors = new Map<string, CheckpointTensorInfo>();
  if (weightMap) {
    for (const [name, fileName] of weightMap) {
      const info = files.get(fileName)!.header.tensors.get(name);
      if (!info) throw new SafetensorsError(`${indexPath}: maps "${name}" to ${fileName}, which has no such tensor`);
      tensors.set(name, { ...info, fileName });
    }
  } else {
    for (const info of files.get(SINGLE_FILE)!.header.tensors.values()) tensors.set(info.name, { ...info, fileName: SINGLE_FILE });
  }

  return {
    dir,
    files: fileNames,
    tensors,
    async getFloat32(name: string): Promise<Float32Array> {
      const info = lookup(tensors, name, dir);
      const { file, header } = files.get(info.fileName)!;
      const [begin, end] = info.dataOffsets;
      const bytes = await file.read(header.dataStart + begin, header.dataStart + end);
      // reuse: bytes a source returns are the caller's (a file read, or a fresh copy)…
      return decodeToFloat32(bytes, info.dtype, ownsBytes(bytes));
    },
    async readTensorBytes(name: string, begin = 0, end?: number): Promise<Uint8Array> {
      const info = lookup(tensors, name, dir);
      const { file, header } = files.get(info.fileName)!;
      const [first, last] = info.dataOffsets;
      const stop = end ?? last - first;
      if (!Number.isInteger(begin) || !Number.isInteger(stop) || begin < 0 || stop < begin || stop > last - first) {
        throw new RangeError(`${name}: byte range [${begin}, ${stop}) is outside the tensor's ${last - first} bytes`);
      }
      return file.read(header.dataStart + first + begin, header.dataStart + first + stop);
    },
  };
}

/**
 * …except a view into a larger buffer (in-memory files hand out subarrays of the caller's
 * bytes): decoding must then copy, never alias the caller's buffer.
 */
function ownsBytes(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}

/** weight_map of an index file: tensor name -> shard file name. */
function parseShardIndex(json: unknown, path: string): Map<string, string> {
  const weightMap = isPlainObject(json) ? json['weight_map'] : undefined;
  if (!isPlainObject(weightMap)) throw new SafetensorsError(`${path}: missing the "weight_map" object`);
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string' || file.length === 0) throw new SafetensorsError(`${path}: weight_map["${name}"] is not a file name`);
    out.set(name, file);
  }
  if (out.size === 0) throw new SafetensorsError(`${path}: weight_map is empty`);
  return out;
}

/** Reads and validates one file's header through range reads: 8 bytes, then the JSON. */
async function readHeaderOf(file: RandomAccessFile, path: string, fileName: string): Promise<SafetensorsHeader> {
  const size = file.size;
  const prefix = await file.read(0, Math.min(8, size));
  const headerLength = readHeaderLength(prefix, path, size);
  const headerBytes = await file.read(8, 8 + headerLength);
  if (headerBytes.byteLength !== headerLength) throw new SafetensorsError(`${path}: file ended inside the header`);
  const dataStart = 8 + headerLength;
  const { tensors, metadata } = parseHeader(headerBytes, path, size - dataStart);
  return { fileName, dataStart, tensors, metadata };
}
