import { describe, it, expect, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, copyFile, mkdir, open, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../kernels/errors.js';
import { MAX_HEADER_BYTES, parseSafetensors, SafetensorsError, type Checkpoint } from '../nn/safetensors.js';
import { readCheckpoint } from '../nn/folder.js';

const MODELS = fileURLToPath(new URL('./fixtures/models', import.meta.url));
const SINGLE_FILE_MODELS = [
  'llama', 'llama-bf16', 'qwen2', 'gpt2', 'gpt2-f16', 'gpt2-nobias', 'gpt2-sinusoidal', 'bert', 'bert-nobias', 'vit',
];

interface TensorCheck { shape: number[]; first: number[]; sum: number }
interface Reference { tensor_checks: Record<string, TensorCheck> }

async function reference(model: string): Promise<Reference> {
  return JSON.parse(await readFile(join(MODELS, model, 'reference.json'), 'utf8')) as Reference;
}

async function allTensors(ckpt: Checkpoint): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const name of ckpt.tensors.keys()) out.set(name, await ckpt.getFloat32(name));
  return out;
}

/** Builds safetensors bytes; `header` may be a raw string to produce malformed JSON. */
function encode(header: object | string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Largest amount by which |rounded - exact| exceeds relative * |exact| + absolute (<= 0 when within). */
function worstRoundingExcess(rounded: Float32Array, exact: Float32Array, relative: number, absolute: number): number {
  let worst = -Infinity;
  exact.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(rounded[i]! - v) - (Math.abs(v) * relative + absolute));
  });
  return worst;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function u16Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Uint16Array(values).buffer);
}

describe('committed fixtures', () => {
  it.each(SINGLE_FILE_MODELS)('%s: shapes, first values and sums match what make_models.py wrote', async (model) => {
    const ckpt = await readCheckpoint(join(MODELS, model));
    expect(ckpt.files).toEqual(['model.safetensors']);
    const { tensor_checks: checks } = await reference(model);
    for (const [name, check] of Object.entries(checks)) {
      expect(ckpt.tensors.get(name)?.shape).toEqual(check.shape);
      const values = await ckpt.getFloat32(name);
      // The JSON holds the shortest decimal that rounds to the stored float32.
      expect(Array.from(values.subarray(0, 4))).toEqual(check.first.map(Math.fround));
      const sum = values.reduce((s, v) => s + v, 0);
      expect(Math.abs(sum - check.sum)).toBeLessThan(1e-9 * Math.max(1, values.length));
    }
  });

  it('stores the HF parameter names and layouts each family needs', async () => {
    const llama = await readCheckpoint(join(MODELS, 'llama'));
    expect(llama.tensors.get('model.layers.0.self_attn.q_proj.weight')?.shape).toEqual([32, 32]);
    expect(llama.tensors.get('model.layers.0.self_attn.k_proj.weight')?.shape).toEqual([16, 32]); // GQA: 2 kv heads
    expect(llama.tensors.has('lm_head.weight')).toBe(true);
    expect([...llama.tensors.keys()].some((n) => n.endsWith('.bias'))).toBe(false);

    const qwen = await readCheckpoint(join(MODELS, 'qwen2'));
    expect(qwen.tensors.get('model.layers.1.self_attn.v_proj.bias')?.shape).toEqual([16]);
    expect(qwen.tensors.has('model.layers.1.self_attn.o_proj.bias')).toBe(false);

    const gpt2 = await readCheckpoint(join(MODELS, 'gpt2'));
    expect(gpt2.tensors.get('transformer.h.0.attn.c_attn.weight')?.shape).toEqual([32, 96]); // Conv1D [in, out]
    expect(gpt2.tensors.get('transformer.h.0.mlp.c_fc.weight')?.shape).toEqual([32, 128]);
    expect(gpt2.tensors.has('lm_head.weight')).toBe(false); // tied to wte
    expect(gpt2.tensors.has('transformer.wpe.weight')).toBe(true);

    const sinusoidal = await readCheckpoint(join(MODELS, 'gpt2-sinusoidal'));
    expect(sinusoidal.tensors.has('transformer.wpe.weight')).toBe(false);

    const bert = await readCheckpoint(join(MODELS, 'bert'));
    expect(bert.tensors.get('classifier.weight')?.shape).toEqual([3, 32]);
    expect(bert.tensors.get('bert.embeddings.token_type_embeddings.weight')?.shape).toEqual([2, 32]);

    const vit = await readCheckpoint(join(MODELS, 'vit'));
    expect(vit.tensors.get('vit.embeddings.patch_embeddings.projection.weight')?.shape).toEqual([32, 3, 8, 8]);
    expect(vit.tensors.get('vit.embeddings.position_embeddings')?.shape).toEqual([1, 10, 32]);
    expect(vit.tensors.get('vit.embeddings.cls_token')?.shape).toEqual([1, 1, 32]);
  });

  it('keeps zeroed biases in the nobias variants', async () => {
    for (const model of ['gpt2-nobias', 'bert-nobias']) {
      const tensors = await allTensors(await readCheckpoint(join(MODELS, model)));
      const biases = [...tensors].filter(([name]) => name.endsWith('.bias'));
      expect(biases.length).toBeGreaterThan(0);
      for (const [, values] of biases) expect(values.every((v) => v === 0)).toBe(true);
    }
  });

  it('widens F16 to within half-precision rounding of the F32 weights', async () => {
    const f32 = await allTensors(await readCheckpoint(join(MODELS, 'gpt2')));
    const f16 = await readCheckpoint(join(MODELS, 'gpt2-f16'));
    expect([...f16.tensors.keys()].sort()).toEqual([...f32.keys()].sort());
    for (const [name, info] of f16.tensors) {
      expect(info.dtype).toBe('F16');
      const exact = f32.get(name)!;
      const rounded = await f16.getFloat32(name);
      // Round-to-nearest: error at most half an ulp, 2^-11 relative (2^-25 absolute for subnormals).
      expect(worstRoundingExcess(rounded, exact, 2 ** -11, 2 ** -25), name).toBeLessThanOrEqual(0);
    }
  });

  it('widens BF16 to within bfloat16 rounding of the F32 weights', async () => {
    const f32 = await allTensors(await readCheckpoint(join(MODELS, 'llama')));
    const bf16 = await readCheckpoint(join(MODELS, 'llama-bf16'));
    expect([...bf16.tensors.keys()].sort()).toEqual([...f32.keys()].sort());
    for (const [name, info] of bf16.tensors) {
      expect(info.dtype).toBe('BF16');
      const exact = f32.get(name)!;
      const rounded = await bf16.getFloat32(name);
      expect(worstRoundingExcess(rounded, exact, 2 ** -8, 0), name).toBeLessThanOrEqual(0);
      expect(rounded.some((v, i) => v !== exact[i])).toBe(true); // really rounded, not a copy
    }
  });

  it('reads the sharded llama as the same tensors as the single-file one', async () => {
    const single = await allTensors(await readCheckpoint(join(MODELS, 'llama')));
    const sharded = await readCheckpoint(join(MODELS, 'llama-sharded'));
    expect(sharded.files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(sharded.tensors.get('model.embed_tokens.weight')?.fileName).toBe('model-00001-of-00002.safetensors');
    expect(sharded.tensors.get('lm_head.weight')?.fileName).toBe('model-00002-of-00002.safetensors');
    expect([...sharded.tensors.keys()].sort()).toEqual([...single.keys()].sort());
    for (const [name, values] of single) expect(await sharded.getFloat32(name)).toEqual(values);
  });

  it('parses a file from memory to the same values readCheckpoint reads from disk', async () => {
    const dir = join(MODELS, 'vit');
    const file = parseSafetensors(await readFile(join(dir, 'model.safetensors')), 'vit/model.safetensors');
    const ckpt = await readCheckpoint(dir);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect([...file.tensors.keys()].sort()).toEqual([...ckpt.tensors.keys()].sort());
    for (const name of file.tensors.keys()) expect(file.getFloat32(name)).toEqual(await ckpt.getFloat32(name));
  });

  it('reads any byte range of a tensor as the stored bytes, and refuses one outside it', async () => {
    const dir = join(MODELS, 'vit');
    const file = parseSafetensors(await readFile(join(dir, 'model.safetensors')), 'vit/model.safetensors');
    const ckpt = await readCheckpoint(dir);
    for (const name of file.tensors.keys()) {
      const whole = new Uint8Array(file.getBytes(name));
      expect(await ckpt.readTensorBytes(name)).toEqual(whole);
      const mid = Math.floor(whole.length / 3);
      expect(await ckpt.readTensorBytes(name, mid, whole.length - 4)).toEqual(whole.subarray(mid, whole.length - 4));
      await expect(ckpt.readTensorBytes(name, 0, whole.length + 1)).rejects.toThrow(/outside the tensor/);
    }
  });
});

describe('dtype conversion', () => {
  it('decodes F16 zeros, subnormals, extremes, infinities and NaN', () => {
    const bits = [0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x7e00, 0x3555];
    const file = parseSafetensors(
      encode({ h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, 2 * bits.length] } }, u16Bytes(bits)),
      'f16.safetensors',
    );
    const v = file.getFloat32('h');
    expect(Object.is(v[0], 0)).toBe(true);
    expect(Object.is(v[1], -0)).toBe(true);
    expect(Array.from(v.subarray(2, 10))).toEqual([
      1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, Infinity, -Infinity,
    ]);
    expect(v[10]).toBeNaN();
    expect(v[11]).toBe(0.333251953125);
  });

  it('decodes BF16 as the top 16 bits of a float32', () => {
    const values = [1, -2.5, 3.140625, 1e-40, Infinity];
    const f32bits = new Uint32Array(new Float32Array(values).buffer);
    const bits = Array.from(f32bits, (b) => b >>> 16);
    const file = parseSafetensors(
      encode({ b: { dtype: 'BF16', shape: [values.length], data_offsets: [0, 2 * values.length] } }, u16Bytes(bits)),
      'bf16.safetensors',
    );
    const expected = Array.from(f32bits, (b) => new Float32Array(new Uint32Array([(b >>> 16) << 16]).buffer)[0]!);
    expect(Array.from(file.getFloat32('b'))).toEqual(expected);
    expect(Array.from(file.getFloat32('b').subarray(0, 3))).toEqual([1, -2.5, 3.140625]);
  });

  it('converts F64 and integer dtypes to float32', () => {
    const f64 = new Uint8Array(new Float64Array([0.5, -3]).buffer);
    const i64 = new Uint8Array(new BigInt64Array([7n, -9n]).buffer);
    const i32 = new Uint8Array(new Int32Array([-4, 100000]).buffer);
    const u8 = new Uint8Array([0, 255]);
    const data = new Uint8Array([...f64, ...i64, ...i32, ...u8, 1, 0]);
    const file = parseSafetensors(
      encode(
        {
          f: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
          l: { dtype: 'I64', shape: [2], data_offsets: [16, 32] },
          i: { dtype: 'I32', shape: [2], data_offsets: [32, 40] },
          u: { dtype: 'U8', shape: [2], data_offsets: [40, 42] },
          m: { dtype: 'BOOL', shape: [2], data_offsets: [42, 44] },
        },
        data,
      ),
      'ints.safetensors',
    );
    expect(Array.from(file.getFloat32('f'))).toEqual([0.5, -3]);
    expect(Array.from(file.getFloat32('l'))).toEqual([7, -9]);
    expect(Array.from(file.getFloat32('i'))).toEqual([-4, 100000]);
    expect(Array.from(file.getFloat32('u'))).toEqual([0, 255]);
    expect(Array.from(file.getFloat32('m'))).toEqual([1, 0]);
  });

  it('reads F32 data that sits at an unaligned byte offset', () => {
    // Pad the header so the data buffer starts one byte past a 4-byte boundary.
    let header = JSON.stringify({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
    while ((8 + header.length) % 4 !== 1) header += ' ';
    const bytes = encode(header, f32Bytes([1.5, -2]));
    const file = parseSafetensors(bytes, 'unaligned.safetensors');
    expect(file.dataStart % 4).not.toBe(0);
    expect(Array.from(file.getFloat32('x'))).toEqual([1.5, -2]);
  });

  it('accepts scalars and empty tensors', () => {
    const file = parseSafetensors(
      encode(
        {
          s: { dtype: 'F32', shape: [], data_offsets: [0, 4] },
          e: { dtype: 'F32', shape: [0, 3], data_offsets: [4, 4] },
        },
        f32Bytes([42]),
      ),
      'scalar.safetensors',
    );
    expect(Array.from(file.getFloat32('s'))).toEqual([42]);
    expect(file.getFloat32('e').length).toBe(0);
  });
});

describe('malformed files are rejected with errors naming the file and tensor', () => {
  const entry = (over: object = {}) => ({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...over } });
  const parse = (bytes: Uint8Array) => () => parseSafetensors(bytes, 'bad.safetensors');

  it('rejects a file shorter than the 8-byte length prefix', () => {
    expect(parse(new Uint8Array(5))).toThrow(SafetensorsError);
    expect(parse(new Uint8Array(5))).toThrow(/bad\.safetensors: file is 5 bytes, too short/);
  });

  it('rejects a header length that runs past the end of the file', () => {
    const bytes = encode(entry(), f32Bytes([1, 2]));
    new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.length), true);
    expect(parse(bytes)).toThrow(/bad\.safetensors: header length \d+ runs past the end/);
  });

  it('refuses a header length above 100 MB before reading it, whatever the file size', () => {
    const bytes = encode(entry(), f32Bytes([1, 2]));
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 63n, true);
    expect(parse(bytes)).toThrow(/bad\.safetensors: header length 9223372036854775808 is more than the limit of 100000000 bytes/);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true);
    expect(parse(bytes)).toThrow(/header length 100000001 is more than the limit/);
    expect(parse(bytes)).toThrow(InputError);
  });

  it('rejects a header that is not JSON, not UTF-8, or not an object', () => {
    expect(parse(encode('{"w": {"dtype": "F32",'))).toThrow(/bad\.safetensors: header is not valid JSON/);
    const bytes = encode('{}');
    bytes[8] = 0xff;
    expect(parse(bytes)).toThrow(/not valid UTF-8/);
    expect(parse(encode('[1, 2]'))).toThrow(/header JSON is not an object/);
  });

  it.each(['dtype', 'shape', 'data_offsets'])('rejects an entry missing %s', (key) => {
    const e = entry();
    delete (e.w as Record<string, unknown>)[key];
    expect(parse(encode(e, f32Bytes([1, 2])))).toThrow(new RegExp(`bad\\.safetensors: tensor "w": missing ${key}`));
  });

  it('rejects an entry that is not an object, and malformed shapes or offsets', () => {
    expect(parse(encode({ w: [1] }))).toThrow(/tensor "w": entry is not an object/);
    expect(parse(encode(entry({ shape: [2.5] }), f32Bytes([1, 2])))).toThrow(/tensor "w": shape \[2\.5\] is not a list/);
    expect(parse(encode(entry({ shape: [-2] }), f32Bytes([1, 2])))).toThrow(/tensor "w": shape/);
    expect(parse(encode(entry({ data_offsets: [0] }), f32Bytes([1, 2])))).toThrow(/tensor "w": data_offsets \[0\]/);
  });

  it('rejects an unknown dtype', () => {
    expect(parse(encode(entry({ dtype: 'F8_E4M3' }), f32Bytes([1, 2])))).toThrow(
      /bad\.safetensors: tensor "w": unsupported dtype "F8_E4M3"/,
    );
  });

  it('rejects offsets beyond the data buffer or reversed', () => {
    expect(parse(encode(entry({ data_offsets: [0, 12] }), f32Bytes([1, 2])))).toThrow(
      /tensor "w": data_offsets \[0, 12\] are out of range for a 8-byte data buffer/,
    );
    expect(parse(encode(entry({ data_offsets: [8, 0] }), f32Bytes([1, 2])))).toThrow(/out of range/);
  });

  it('rejects offsets whose length does not match shape x dtype size', () => {
    expect(parse(encode(entry({ shape: [3] }), f32Bytes([1, 2, 3])))).toThrow(
      /tensor "w": data_offsets \[0, 8\] span 8 bytes but shape \[3\] of F32 needs 12/,
    );
    expect(parse(encode(entry({ dtype: 'F16' }), f32Bytes([1, 2])))).toThrow(/needs 4/);
  });

  it('rejects overlapping tensors', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    expect(parse(encode(header, f32Bytes([1, 2, 3])))).toThrow(/bad\.safetensors: tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/);
  });

  it('accepts tensors listed out of data order, with gaps and trailing bytes', () => {
    const header = {
      late: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      early: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
    };
    const file = parse(encode(header, f32Bytes([1, 99, 3, 77])))();
    expect(Array.from(file.getFloat32('early'))).toEqual([1]);
    expect(Array.from(file.getFloat32('late'))).toEqual([3]);
  });

  it('rejects non-string metadata values', () => {
    expect(parse(encode({ __metadata__: { format: 1 } }))).toThrow(/__metadata__\.format is not a string/);
  });

  it('names the file when a tensor is missing', () => {
    const file = parse(encode(entry(), f32Bytes([1, 2])))();
    expect(() => file.getFloat32('nope')).toThrow(/bad\.safetensors: no tensor named "nope"/);
  });
});

describe('checkpoint directories', () => {
  const made: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'safetensors-test-'));
    made.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const dir of made) await rm(dir, { recursive: true, force: true });
  });

  it('rejects an index that references a missing shard', async () => {
    const dir = await tempDir();
    const source = join(MODELS, 'llama-sharded');
    await copyFile(join(source, 'model.safetensors.index.json'), join(dir, 'model.safetensors.index.json'));
    await copyFile(join(source, 'model-00001-of-00002.safetensors'), join(dir, 'model-00001-of-00002.safetensors'));
    await expect(readCheckpoint(dir)).rejects.toThrow(
      /model\.safetensors\.index\.json: references shard model-00002-of-00002\.safetensors, which does not exist/,
    );
  });

  it('rejects an index that maps a tensor to a shard without it', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a.safetensors'), encode(entry(), f32Bytes([1, 2])));
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { v: 'a.safetensors' } }));
    await expect(readCheckpoint(dir)).rejects.toThrow(/maps "v" to a\.safetensors, which has no such tensor/);
  });

  it('rejects an index without a weight_map, and malformed index JSON', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {} }));
    await expect(readCheckpoint(dir)).rejects.toThrow(/missing the "weight_map" object/);
    await writeFile(join(dir, 'model.safetensors.index.json'), '{ nope');
    await expect(readCheckpoint(dir)).rejects.toThrow(/index\.json: not valid JSON/);
  });

  it('rejects a directory with no checkpoint, and validates a single file read from disk', async () => {
    const dir = await tempDir();
    await expect(readCheckpoint(dir)).rejects.toThrow(/neither model\.safetensors nor model\.safetensors\.index\.json/);
    await writeFile(join(dir, 'model.safetensors'), new Uint8Array(3));
    await expect(readCheckpoint(dir)).rejects.toThrow(/model\.safetensors: file is 3 bytes, too short/);
    await writeFile(join(dir, 'model.safetensors'), encode(entry({ dtype: 'Q4' }), f32Bytes([1, 2])));
    await expect(readCheckpoint(dir)).rejects.toThrow(/model\.safetensors: tensor "w": unsupported dtype "Q4"/);
  });

  /** A sparse file of `size` bytes whose first 8 bytes claim a header of `headerLength` bytes. */
  async function sparseCheckpoint(path: string, headerLength: bigint, size: number): Promise<void> {
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, headerLength, true);
    const handle = await open(path, 'w');
    await handle.write(prefix, 0, 8, 0);
    await handle.truncate(size);
    await handle.close();
  }

  it('refuses a 1 GiB or 2 GiB header claimed by a sparse file without reading it', async () => {
    const dir = await tempDir();
    const path = join(dir, 'model.safetensors');
    await sparseCheckpoint(path, 2n ** 30n, 2 ** 30 + 64);
    await expect(readCheckpoint(dir)).rejects.toThrow(/model\.safetensors: header length 1073741824 is more than the limit of 100000000 bytes/);
    // At 2^31 bytes and more, one read() would trip a native assertion in Node: refused before that.
    await sparseCheckpoint(path, 2n ** 31n + 8n, 2 ** 31 + 64);
    await expect(readCheckpoint(dir)).rejects.toThrow(/header length 2147483656 is more than the limit/);
  });

  it('refuses shard names that leave the checkpoint folder: .., absolute paths, escaping symlinks', async () => {
    const dir = await tempDir();
    const outside = await tempDir();
    await writeFile(join(outside, 'w.safetensors'), encode(entry(), f32Bytes([1, 2])));
    const index = (file: string) => writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: file } }));
    for (const file of ['../../../../etc/passwd', '/etc/passwd', `../${outside.split('/').pop()}/w.safetensors`, '.', 'a\u0000b']) {
      await index(file);
      await expect(readCheckpoint(dir)).rejects.toThrow(/is not a file inside the checkpoint folder/);
    }
    await symlink(join(outside, 'w.safetensors'), join(dir, 'link.safetensors'));
    await index('link.safetensors');
    await expect(readCheckpoint(dir)).rejects.toThrow(/shard link\.safetensors is a symlink to .*w\.safetensors, outside the checkpoint folder/);
    // A symlink within the folder, and a sub-folder, are fine.
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'w.safetensors'), encode(entry(), f32Bytes([1, 2])));
    await symlink(join(dir, 'sub', 'w.safetensors'), join(dir, 'inner.safetensors'));
    await index('inner.safetensors');
    expect([...(await readCheckpoint(dir)).tensors.keys()]).toEqual(['w']);
    await index('sub/w.safetensors');
    expect(await (await readCheckpoint(dir)).getFloat32('w')).toEqual(new Float32Array([1, 2]));
  });

  it('reads shards from the Hugging Face cache layout (snapshots/<rev>/x → ../../blobs/<hash>)', async () => {
    const cache = await tempDir();
    const snapshot = join(cache, 'snapshots', 'abc123');
    await mkdir(snapshot, { recursive: true });
    await mkdir(join(cache, 'blobs'));
    await writeFile(join(cache, 'blobs', 'f00d'), encode(entry(), f32Bytes([3, 4])));
    await symlink('../../blobs/f00d', join(snapshot, 'model-1.safetensors'));
    await writeFile(join(snapshot, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: 'model-1.safetensors' } }));
    expect(await (await readCheckpoint(snapshot)).getFloat32('w')).toEqual(new Float32Array([3, 4]));
  });

  it('refuses an index or checkpoint that is a FIFO or a device, without blocking', async () => {
    const dir = await tempDir();
    execFileSync('mkfifo', [join(dir, 'model.safetensors.index.json')]);
    await expect(readCheckpoint(dir)).rejects.toThrow(/index\.json: the shard index must be a regular file, but it is a FIFO/);
    await symlink('/dev/zero', join(dir, 'model.safetensors'));
    await expect(readCheckpoint(dir)).rejects.toThrow(/model\.safetensors: the checkpoint must be a regular file, but it is a character device/);
  });

  function entry(over: object = {}) {
    return { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...over } };
  }
});
