/**
 * Serialises tensors to the safetensors format (8-byte little-endian header length, a JSON
 * header, then the raw little-endian data), the inverse of `parseSafetensors`.
 */
export interface TensorToWrite {
  name: string;
  shape: readonly number[];
  data: Float32Array | Float64Array;
}

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
  const json = JSON.stringify(header);
  const jsonBytes = new TextEncoder().encode(json).length;
  const headerBytes = new TextEncoder().encode(json + ' '.repeat((8 - ((8 + jsonBytes) % 8)) % 8));
  const dataBytes = chunks.reduce((n, c) => n + c.byteLength, 0);
  const out = new Uint8Array(8 + headerBytes.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
