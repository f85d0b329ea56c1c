/**
 * Serialises tensors to the safetensors format (8-byte little-endian header length, a JSON
 * header, then the raw little-endian data), the inverse of `parseSafetensors`: whole files in
 * memory (`serializeSafetensors`), or the header alone (`safetensorsHeader`) for a writer that
 * streams the data (Node: `writeSafetensorsStream`, nn/safetensorsStream.ts).
 */

/** A tensor for `serializeSafetensors`: F32 or F64 by its array type. */
export interface TensorToWrite {
  /** Name in the header. */
  name: string;
  /** Dimensions; their product must equal `data.length`. */
  shape: readonly number[];
  /** Values, row-major. */
  data: Float32Array | Float64Array;
}

/**
 * A complete safetensors file holding `tensors` in order (and `metadata` as `__metadata__`); throws when a tensor's data does not fit its shape.
 */
export function serializeSafetensors(tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`safetensors: ${t.name} has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    const bytes = t.data.byteLength;
    header[t.name] = { dtype: t.data instanceof Float64Array ? 'F64' : 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  return assembleSafetensors(header, tensors.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)));
}

/**
 * The file layout alone: the header as given (offsets already in it), padded with spaces so the
 * data starts 8-byte aligned as the reference writer does, then the data chunks in order.
 */
export function assembleSafetensors(header: Record<string, unknown>, chunks: readonly Uint8Array[]): Uint8Array {
  const head = encodeHeader(header);
  const dataBytes = chunks.reduce((n, c) => n + c.byteLength, 0);
  const out = new Uint8Array(head.length + dataBytes);
  out.set(head, 0);
  let at = head.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The 8-byte length and the JSON header, padded with spaces to a multiple of 8 bytes. */
function encodeHeader(header: Record<string, unknown>): Uint8Array {
  const json = JSON.stringify(header);
  const jsonBytes = new TextEncoder().encode(json).length;
  const headerBytes = new TextEncoder().encode(json + ' '.repeat((8 - ((8 + jsonBytes) % 8)) % 8));
  const out = new Uint8Array(8 + headerBytes.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  return out;
}

/** Stored dtypes the streaming writer lays out. */
export type WritableDtype = 'F64' | 'F32' | 'F16' | 'BF16';

const DTYPE_BYTES: Record<WritableDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

/** A tensor's name, shape and stored dtype: what the header needs before any data exists. */
export interface TensorLayout {
  /** Name in the header. */
  name: string;
  /** Dimensions. */
  shape: readonly number[];
  /** How the values are stored. */
  dtype: WritableDtype;
}

/** Bytes of one tensor's data as stored. */
export function tensorByteLength(t: TensorLayout): number {
  return t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
}

/** The header bytes (length, JSON, padding) of a file holding `tensors` back to back, in order. */
export function safetensorsHeader(tensors: readonly TensorLayout[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = tensorByteLength(t);
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  return encodeHeader(header);
}

/** float32 → bfloat16 bits, rounding to nearest even as torch's cast does (finite values). */
export function float32ToBfloat16(values: Float32Array, out: Uint16Array = new Uint16Array(values.length)): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) {
    const b = bits[i]!;
    out[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}
