/** Writes safetensors files for tests (F32 only), with hooks to corrupt the header on purpose. */
import { writeFileSync } from 'node:fs';

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
  dtype?: string;
}

export function safetensorsBytes(tensors: TensorToWrite[], editHeader?: (header: Record<string, unknown>) => void): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  editHeader?.(header);
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export function writeSafetensors(path: string, tensors: TensorToWrite[], editHeader?: (header: Record<string, unknown>) => void): void {
  writeFileSync(path, safetensorsBytes(tensors, editHeader));
}
