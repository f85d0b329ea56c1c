/**
 * The streaming safetensors writer (nn/safetensorsWriter.ts) and the bench checkpoints written
 * with it (scripts/bench-checkpoint.ts): the file reads back through the project's parser with
 * the values drawn from the project's PRNG, F32 and BF16, the header is the one the in-memory
 * writer produces, and a failed write leaves no file behind.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { float32ToBfloat16, safetensorsHeader, serializeSafetensors, type TensorLayout } from '../nn/safetensorsWriter.js';
import { writeSafetensorsStream } from '../nn/safetensorsStream.js';
import { parseSafetensors } from '../nn/safetensors.js';
import { readCheckpoint } from '../nn/folder.js';
import { deriveSeed, Rng } from '../nn/train/rng.js';
import { checkpointMatches, ensureCheckpoint, randomIds, writeCheckpoint, type CheckpointPlan, type TensorPlan } from '../scripts/bench-checkpoint.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'st-stream-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('writeSafetensorsStream', () => {
  it('writes the bytes serializeSafetensors writes, chunk by chunk', async () => {
    const a = Float32Array.from({ length: 15 }, (_, i) => i * 0.5 - 3);
    const b = new Float32Array([1e-8, -2, 3.25]);
    const expected = serializeSafetensors(
      [
        { name: 'a', shape: [3, 5], data: a },
        { name: 'b.bias', shape: [3], data: b },
      ],
      { format: 'pt' },
    );
    const layouts: TensorLayout[] = [
      { name: 'a', shape: [3, 5], dtype: 'F32' },
      { name: 'b.bias', shape: [3], dtype: 'F32' },
    ];
    const path = join(await tempDir(), 'x.safetensors');
    const size = await writeSafetensorsStream(
      path,
      layouts,
      function* (_t, index) {
        const data = index === 0 ? a : b;
        // Uneven chunks: the writer only concatenates.
        yield new Uint8Array(data.buffer, 0, 8);
        yield new Uint8Array(data.buffer, 8);
      },
      { format: 'pt' },
    );
    const written = new Uint8Array(await readFile(path));
    expect(size).toBe(expected.length);
    expect(Buffer.from(written).equals(Buffer.from(expected))).toBe(true);
    expect(safetensorsHeader(layouts, { format: 'pt' })).toEqual(expected.subarray(0, safetensorsHeader(layouts, { format: 'pt' }).length));
  });

  it('leaves no file (and no partial file) when a tensor gets the wrong number of bytes', async () => {
    const dir = await tempDir();
    const path = join(dir, 'bad.safetensors');
    await expect(writeSafetensorsStream(path, [{ name: 'w', shape: [4], dtype: 'F32' }], () => [new Uint8Array(12)])).rejects.toThrow(/w got 12 bytes of data, its layout needs 16/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('rounds float32 to bfloat16 to nearest even, as torch does', () => {
    // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties go to the even mantissa (1).
    // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties go to 1 + 2^-6.
    const values = new Float32Array([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, 1 + 2 ** -8 + 2 ** -20]);
    expect(Array.from(float32ToBfloat16(values))).toEqual([0x3f80, 0x3f80, 0x3f82, 0xc020, 0x3f81]);
  });
});

describe('bench checkpoints', () => {
  const config = { model_type: 'test', hidden: 4 };
  const tensors = (dtype: 'F32' | 'BF16'): TensorPlan[] => [
    { name: 'w', shape: [3, 700], dtype, init: { normal: 0.5 } },
    { name: 'g', shape: [5], dtype, init: { constant: 1 } },
    { name: 'b', shape: [5], dtype, init: { constant: 0 } },
  ];

  it('draws each tensor from its own stream of the project PRNG (nn/train/rng.ts) and reads back exactly', async () => {
    const dir = await tempDir();
    const plan: CheckpointPlan = { config, tensors: tensors('F32'), seed: 7, generator: 'test' };
    await writeCheckpoint(dir, plan);
    const ckpt = await readCheckpoint(dir);
    const rng = new Rng(deriveSeed(7, 'w'));
    const expected = Float32Array.from({ length: 2100 }, () => 0.5 * rng.normal());
    expect(Array.from(await ckpt.getFloat32('w'))).toEqual(Array.from(expected));
    expect(Array.from(await ckpt.getFloat32('g'))).toEqual([1, 1, 1, 1, 1]);
    expect(Array.from(await ckpt.getFloat32('b'))).toEqual([0, 0, 0, 0, 0]);
    expect(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))).toEqual(config);
    const file = parseSafetensors(new Uint8Array(await readFile(join(dir, 'model.safetensors'))), 'model.safetensors');
    expect(file.metadata).toEqual({ format: 'pt', generator: 'test', seed: '7' });
  });

  it('stores BF16 as the rounded f32 draws', async () => {
    const dir = await tempDir();
    await writeCheckpoint(dir, { config, tensors: tensors('BF16'), seed: 7, generator: 'test' });
    const ckpt = await readCheckpoint(dir);
    const rng = new Rng(deriveSeed(7, 'w'));
    const drawn = Float32Array.from({ length: 2100 }, () => 0.5 * rng.normal());
    const bits = float32ToBfloat16(drawn);
    const widened = new Float32Array(new Uint32Array(Array.from(bits, (h) => h << 16)).buffer);
    expect(Array.from(await ckpt.getFloat32('w'))).toEqual(Array.from(widened));
    expect(ckpt.tensors.get('w')!.dtype).toBe('BF16');
  });

  it('recognises a checkpoint it already wrote, and rewrites one with another seed', async () => {
    const dir = await tempDir();
    const plan: CheckpointPlan = { config, tensors: tensors('F32'), seed: 1, generator: 'test' };
    expect(await ensureCheckpoint(dir, plan)).toBe(true);
    expect(await checkpointMatches(dir, plan)).toBe(true);
    expect(await ensureCheckpoint(dir, plan)).toBe(false);
    expect(await checkpointMatches(dir, { ...plan, seed: 2 })).toBe(false);
    expect(await ensureCheckpoint(dir, { ...plan, seed: 2 })).toBe(true);
  });

  it('draws token ids below the vocabulary size, reproducibly', () => {
    const ids = randomIds(500, 37, 3);
    expect(ids).toEqual(randomIds(500, 37, 3));
    expect(ids).not.toEqual(randomIds(500, 37, 4));
    expect(Math.max(...ids)).toBe(36);
    expect(Math.min(...ids)).toBe(0);
  });
});
