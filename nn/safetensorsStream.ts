/**
 * Writing a safetensors file to disk tensor by tensor (Node only): for checkpoints larger than
 * memory should hold, such as the benchmarks' full-size models.
 */
import { open, rename, rm } from 'node:fs/promises';
import { safetensorsHeader, tensorByteLength, type TensorLayout } from './safetensorsWriter.js';

/**
 * Writes a safetensors file without holding it in memory: the header, then for each tensor the
 * chunks `data(tensor, index)` yields (raw little-endian bytes of its dtype, in order). Each
 * tensor's chunks must add up to its size. The file is written next to `path` and renamed into
 * place, so `path` never holds a partial file. Returns the file's size in bytes.
 */
export async function writeSafetensorsStream(
  path: string,
  tensors: readonly TensorLayout[],
  data: (tensor: TensorLayout, index: number) => AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  metadata: Record<string, string> = {},
): Promise<number> {
  const partial = `${path}.partial`;
  const file = await open(partial, 'w');
  let size = 0;
  try {
    const header = safetensorsHeader(tensors, metadata);
    await file.write(header);
    size += header.length;
    for (const [index, t] of tensors.entries()) {
      let written = 0;
      for await (const chunk of data(t, index)) {
        await file.write(chunk);
        written += chunk.byteLength;
      }
      if (written !== tensorByteLength(t)) throw new Error(`safetensors: ${t.name} got ${written} bytes of data, its layout needs ${tensorByteLength(t)}`);
      size += written;
    }
    await file.close();
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  }
  await rename(partial, path);
  return size;
}
