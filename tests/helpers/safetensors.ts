/** Writes safetensors files for tests (any dtype label), with a hook to corrupt the header on purpose. */
import { writeFileSync } from 'node:fs';
import { assembleSafetensors } from '../../nn/safetensorsWriter.js';

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
  return assembleSafetensors(header, tensors.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)));
}

export function writeSafetensors(path: string, tensors: TensorToWrite[], editHeader?: (header: Record<string, unknown>) => void): void {
  writeFileSync(path, safetensorsBytes(tensors, editHeader));
}
