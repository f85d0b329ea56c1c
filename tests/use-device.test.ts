/**
 * The portable core on a device the caller made (`useDevice`), as a browser, Deno or Electron
 * embedder does: here a Dawn device this file creates itself with WebGPU's default limits, so
 * nothing of the runtime's own start-up is used. The engine must compute the same numbers on it,
 * load a model through it (from a folder, from bytes in memory, from a URL served on 127.0.0.1
 * with and without HTTP Range support) with the same logits, and refuse a second device.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { create } from 'webgpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasRuntime, initRuntime, runtime, useDevice } from '../kernels/runtime.js';
import { Tensor, matmul, noGrad, softmax, tidy } from '../autograd/index.js';
import { loadModel } from '../nn/folder.js';
import { loadModelFromFiles, loadModelFromUrl } from '../nn/load.js';
import type { ModelInput, TransformerModel } from '../nn/models/types.js';
import type { FileData } from '../nn/source.js';
import { expectClose } from './helpers/close.js';
import { flatten, modelDir, readReference } from './helpers/fixtures.js';

/** Module-level: Dawn frees its instance with this object (docs/runtime.md, "Lifetime"), and the runtime does not hold it here. */
let gpuObject: GPU | null = null;
let device: GPUDevice;
let adapter: GPUAdapter;

beforeAll(async () => {
  expect(hasRuntime()).toBe(false);
  gpuObject = create([]);
  const found = await gpuObject.requestAdapter();
  if (!found) throw new Error('no WebGPU adapter (see docs/runtime.md)');
  adapter = found;
  // A plain requestDevice(): WebGPU's default limits, no features, as the simplest embedder makes it.
  device = await adapter.requestDevice({ label: 'caller-made' });
});

describe('useDevice', () => {
  it('installs the caller\'s device, and initRuntime() then returns that runtime', async () => {
    const rt = useDevice(device, adapter);
    expect(rt.device).toBe(device);
    expect(rt.adapter).toBe(adapter);
    expect(rt.gpu).toBeNull();
    expect(runtime()).toBe(rt);
    expect(await initRuntime()).toBe(rt);
    expect(useDevice(device)).toBe(rt);
    expect(rt.limits.maxStorageBufferBindingSize).toBe(device.limits.maxStorageBufferBindingSize);
    expect(rt.adapterInfo.description).toBe(adapter.info.description);
    expect(gpuObject).not.toBeNull();
  });

  it('refuses a second device: tensors cannot move between devices', async () => {
    const otherAdapter = await gpuObject!.requestAdapter();
    const other = await otherAdapter!.requestDevice({ label: 'second' });
    expect(() => useDevice(other)).toThrow(/already runs on another device/);
    other.destroy();
  });

  it('computes on it: matmul and softmax against a float64 reference', async () => {
    const m = 5;
    const k = 7;
    const n = 3;
    const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.37));
    const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.61));
    const [p, q] = tidy(() => {
      const p = matmul(Tensor.fromArray(a, [m, k]), Tensor.fromArray(b, [k, n]));
      return [p, softmax(p)];
    });
    const product = await p!.toArray();
    const probabilities = await q!.toArray();
    for (let i = 0; i < m; i++) {
      const row: number[] = [];
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * n + j]!;
        row.push(s);
        expect(product[i * n + j]).toBeCloseTo(s, 5);
      }
      const max = Math.max(...row);
      const z = row.reduce((acc, v) => acc + Math.exp(v - max), 0);
      row.forEach((v, j) => expect(probabilities[i * n + j]).toBeCloseTo(Math.exp(v - max) / z, 6));
    }
    expect(runtime().device).toBe(device);
    p!.dispose();
    q!.dispose();
  });

  it('runs a loaded model on it with PyTorch\'s logits', async () => {
    const model = await loadModel(modelDir('gpt2'));
    const ref = readReference('gpt2');
    const logits = noGrad(() => tidy(() => model.forward({ ids: ref.input_ids! })));
    expectClose(await logits.toArray(), flatten(ref.logits), { rtol: 1e-4, atol: 1e-4 }, 'gpt2 logits');
    logits.dispose();
    model.dispose();
  });
});

/** The model's logits for its reference input, read back; the model is disposed. */
async function logitsOf(model: TransformerModel, input: ModelInput): Promise<Float32Array> {
  const logits = noGrad(() => tidy(() => model.forward(input)));
  const values = (await logits.toArray()) as Float32Array;
  logits.dispose();
  model.dispose();
  return values;
}

/** Every file of a fixture folder as bytes, by name. */
function filesOf(name: string): Record<string, Uint8Array> {
  const dir = modelDir(name);
  return Object.fromEntries(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
}

interface Served {
  url: string;
  /** Requests seen: method, path and Range header. */
  log: { method: string; path: string; range: string | undefined }[];
  close(): Promise<void>;
}

/** A static server on 127.0.0.1 for `dir`'s files: HEAD, GET, and single byte ranges unless `ranges` is false. */
async function serve(dir: string, ranges: boolean): Promise<Served> {
  const log: Served['log'] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).slice(1);
    log.push({ method: req.method ?? '', path, range: req.headers.range });
    let body: Buffer;
    try {
      if (path.includes('..')) throw new Error('outside');
      body = readFileSync(join(dir, path));
    } catch {
      res.writeHead(404).end();
      return;
    }
    const match = ranges ? /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') : null;
    if (match) {
      const begin = Number(match[1]);
      const end = Math.min(Number(match[2]), body.length - 1);
      res.writeHead(206, { 'content-length': end - begin + 1, 'content-range': `bytes ${begin}-${end}/${body.length}`, 'accept-ranges': 'bytes' });
      res.end(req.method === 'HEAD' ? undefined : body.subarray(begin, end + 1));
      return;
    }
    res.writeHead(200, { 'content-length': body.length, ...(ranges ? { 'accept-ranges': 'bytes' } : {}) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, log, close: () => new Promise((done) => server.close(() => done())) };
}

describe('loading from bytes and URLs gives the logits of loadModel(dir)', () => {
  const servers: Served[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  for (const name of ['gpt2', 'llama-sharded']) {
    it(`${name}: in-memory bytes, Blobs, Responses, and a URL with and without Range support`, async () => {
      const ref = readReference(name);
      const input: ModelInput = { ids: ref.input_ids! };
      const want = await logitsOf(await loadModel(modelDir(name)), input);
      expectClose(want, flatten(ref.logits), { rtol: 1e-4, atol: 1e-4 }, `${name} from its folder`);

      const bytes = filesOf(name);
      const asBlobs: Record<string, FileData> = Object.fromEntries(Object.entries(bytes).map(([f, b]) => [f, new Blob([b])]));
      const asResponses: Record<string, FileData> = Object.fromEntries(Object.entries(bytes).map(([f, b]) => [f, new Response(b)]));
      for (const [how, files] of [['bytes', bytes], ['Blobs', asBlobs], ['Responses', asResponses]] as const) {
        const got = await logitsOf(await loadModelFromFiles(files), input);
        expect([...got], `${name} from ${how}`).toEqual([...want]);
      }

      const ranged = await serve(modelDir(name), true);
      const whole = await serve(modelDir(name), false);
      servers.push(ranged, whole);
      for (const server of [ranged, whole]) {
        const got = await logitsOf(await loadModelFromUrl(server.url), input);
        expect([...got], `${name} from ${server.url}`).toEqual([...want]);
      }
      // With Range support no safetensors file is fetched whole; without it, each once.
      const gets = (s: Served) => s.log.filter((r) => r.method === 'GET' && r.path.endsWith('.safetensors'));
      expect(gets(ranged).length).toBeGreaterThan(2);
      expect(gets(ranged).every((r) => r.range !== undefined)).toBe(true);
      const files = new Set(gets(whole).map((r) => r.path));
      expect(gets(whole).length).toBe(files.size);
    });
  }

  it('tells which file is missing or oversized, under the source\'s name', async () => {
    const { 'model.safetensors': _weights, ...withoutWeights } = filesOf('gpt2');
    await expect(loadModelFromFiles(withoutWeights, { label: 'my-model' })).rejects.toThrow(
      /my-model: neither model\.safetensors nor model\.safetensors\.index\.json found/,
    );
    const huge = { ...filesOf('gpt2'), 'config.json': new Uint8Array(16 * 2 ** 20 + 1) };
    await expect(loadModelFromFiles(huge, { label: 'my-model' })).rejects.toThrow(
      /my-model\/config\.json: the model's config\.json is 16777217 bytes, more than the limit of 16777216/,
    );
    const server = await serve(modelDir('gpt2'), true);
    servers.push(server);
    await expect(loadModelFromUrl(`${server.url}no-such-model`)).rejects.toThrow(/no-such-model\/config\.json: cannot read the model's config\.json \(HTTP 404/);
  });

  it('refuses shard names that leave the model, from memory as from disk', async () => {
    const files = filesOf('llama-sharded');
    for (const shard of ['../x.safetensors', '/etc/passwd', 'https://example.org/x.safetensors', 'a/./b.safetensors', 'a\\b']) {
      const index = JSON.stringify({ weight_map: { 'model.norm.weight': shard } });
      await expect(loadModelFromFiles({ ...files, 'model.safetensors.index.json': new TextEncoder().encode(index) })).rejects.toThrow(
        /is not a file inside the checkpoint folder/,
      );
    }
  });
});
