/**
 * The portable core on a device the caller made (`useDevice`), as a browser, Deno or Electron
 * embedder does: here a Dawn device this file creates itself with WebGPU's default limits, so
 * nothing of the runtime's own start-up is used. The engine must compute the same numbers on it,
 * load a model through it, and refuse a second device.
 */
import { create } from 'webgpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasRuntime, initRuntime, runtime, useDevice } from '../kernels/runtime.js';
import { Tensor, matmul, noGrad, softmax, tidy } from '../autograd/index.js';
import { loadModel } from '../nn/load.js';
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
