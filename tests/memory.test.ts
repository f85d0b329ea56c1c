/**
 * Memory stays bounded: uploads reuse pooled buffers and do not leak host memory (docs/runtime.md,
 * "Uploads": on lavapipe a buffer that ever received `queue.writeBuffer` keeps its memory after
 * `destroy()`; uploads here are copies from a few reused staging buffers), a disposed module's weights
 * are destroyed rather than parked in the pool, tidy scopes return the pool's live bytes to where
 * they started, and a training-style loop of forward + backward allocates nothing new once warm.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose } from './helpers/close.js';
import { runtime } from '../kernels/runtime.js';
import {
  Tensor,
  add,
  attentionContext,
  attentionScores,
  matmul,
  exp,
  mean,
  mul,
  permute,
  reshape,
  slice,
  softmax,
  square,
  sub,
  sum,
  tanh,
  tidy,
  transpose,
} from '../autograd/index.js';
import { backward } from '../autograd/backward.js';
import { Module } from '../nn/module.js';

/** Idle bytes the pool may keep in this file (set through the environment, as a user would). */
const IDLE_CAP_MB = 64;
const MiB = 2 ** 20;

beforeAll(async () => {
  // This file runs in its own process (vitest forks), so the runtime starts here, with this cap.
  process.env.LRP_POOL_IDLE_MB = String(IDLE_CAP_MB);
  await gpu();
});

const live = (): number => runtime().memory().liveBytes;
const rssMiB = (): number => process.memoryUsage().rss / MiB;

describe('uploads', () => {
  it('uploads 1 GiB (128 × 8 MiB) into one reused pooled buffer, with bounded process memory', async () => {
    const rt = runtime();
    const n = (8 * MiB) / 4;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = i % 1000;
    await rt.sync();
    const rssBefore = rssMiB();
    const statsBefore = rt.memory();
    let maxIdle = 0;
    for (let k = 0; k < 128; k++) {
      data[0] = k;
      const t = Tensor.fromArray(data);
      if (k % 32 === 31) {
        // The data really arrived: first and last element.
        const window = slice(t, 0, 0, 1);
        expect(await window.item()).toBe(k);
        window.dispose();
        const last = slice(t, 0, n - 1, n);
        expect(await last.item()).toBe((n - 1) % 1000);
        last.dispose();
      }
      t.dispose();
      maxIdle = Math.max(maxIdle, rt.memory().idleBytes);
    }
    await rt.sync();
    const growth = rssMiB() - rssBefore;
    const stats = rt.memory();
    expect(stats.liveBytes).toBe(statsBefore.liveBytes);
    expect(maxIdle).toBeLessThanOrEqual(IDLE_CAP_MB * MiB); // LRP_POOL_IDLE_MB took effect
    expect(stats.created - statsBefore.created).toBeLessThanOrEqual(1); // every upload reuses the same 8 MiB buffer
    expect(stats.destroyed - statsBefore.destroyed).toBe(0);
    // 1 GiB went through; a leak like writeBuffer's would keep all of it.
    expect(growth, `RSS grew by ${growth.toFixed(0)} MiB`).toBeLessThan(IDLE_CAP_MB + 250);
  });
});

describe('Module.dispose', () => {
  it('destroys the weights instead of parking them idle in the pool', async () => {
    class TwoWeights extends Module {
      readonly a = this.parameter('a', [1024]);
      readonly b = this.parameter('b', [256, 4]);
    }
    const rt = runtime();
    const m = new TwoWeights('m');
    m.a.set(Tensor.fromArray(new Float32Array(1024).fill(1)));
    m.b.set(Tensor.fromArray(new Float32Array(1024).fill(2), [256, 4]));
    const before = rt.memory();
    m.dispose();
    const after = rt.memory();
    expect(before.liveBytes - after.liveBytes).toBe(2 * 4096);
    expect(after.idleBytes).toBe(before.idleBytes);
    expect(after.destroyed - before.destroyed).toBe(2);
    // A view that outlives the module keeps its buffer until it too is released.
    const c = new TwoWeights('c');
    c.a.set(Tensor.fromArray(new Float32Array(1024).fill(3)));
    const view = slice(c.a.value, 0, 0, 2);
    c.dispose();
    expect(await view.toArray()).toEqual(new Float32Array([3, 3]));
    const beforeView = rt.memory();
    view.dispose();
    expect(rt.memory().destroyed - beforeView.destroyed).toBe(1);
    expect(rt.memory().idleBytes).toBe(beforeView.idleBytes);
  });
});

describe('tidy scopes', () => {
  it('return the live bytes to their start: views, reductions, nested scopes, strided reads, errors', async () => {
    const x = Tensor.fromArray(Array.from({ length: 24 }, (_, i) => i * 0.25), [2, 3, 4]);
    const start = live();
    tidy(() => {
      const t = transpose(x, 0, 2); // view
      const r = reshape(permute(x, [1, 0, 2]), [6, 4]); // copy: not viewable
      const s = sum(mul(t, t), 1, true);
      tidy(() => add(s, exp(sum(r))));
      return { s, nested: [r] };
    }).s.dispose(); // the returned tensors belong to the caller; `nested` is left for the check
    // `nested[0]` (r) survived the tidy; it is the only extra buffer.
    const extra = live() - start;
    expect(extra).toBe(6 * 4 * 4);
    // A returned tensor disposed by the caller releases too.
    const kept = tidy(() => tanh(add(x, Tensor.fromArray([1]))));
    expect(live() - start).toBe(extra + 24 * 4);
    kept.dispose();
    // Reading a strided view uses a temporary contiguous copy, released after the read.
    const tv = transpose(x, 1, 2);
    expect((await tv.toArray()).length).toBe(24);
    tv.dispose();
    // A rejected upload (non-integer into i32) gives its buffer back.
    expect(() => Tensor.fromArray([1, 2.5, 3], [3], 'i32')).toThrow('fromArray: i32 tensor got non-integer value 2.5 at 1');
    expect(live() - start).toBe(extra);
    // A throwing tidy disposes what it created.
    expect(() =>
      tidy(() => {
        exp(x);
        sum(x);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(live() - start).toBe(extra);
    x.dispose();
  });

  it('return the live bytes to their start around forward + backward', () => {
    const w = Tensor.fromArray([0.1, -0.2, 0.3, 0.4], [2, 2]).setRequiresGrad();
    const start = live();
    tidy(() => {
      const loss = sum(square(tanh(mul(w, w))));
      backward(loss);
      w.grad!.dispose();
      w.grad = null;
    });
    expect(live()).toBe(start);
    // Gradients are kept past the tidy (they belong to the leaf), and freed with it.
    tidy(() => backward(sum(exp(w))));
    expect(live() - start).toBe(16);
    w.dispose();
    expect(live()).toBe(start - 16);
  });
});

describe('forward + backward loop', () => {
  /** A tiny attention block + MLP: loss = mean((tanh(attn(x) W1 + b1) − target)²). */
  type BlockName = 'x' | 'wq' | 'wk' | 'wv' | 'w1' | 'b1' | 'target';

  function block(p: Record<BlockName, Tensor>): Tensor {
    const q = matmul(p.x, p.wq);
    const k = matmul(p.x, p.wk);
    const v = matmul(p.x, p.wv);
    const scores = attentionScores(q, k, 1 / Math.sqrt(q.shape[1]!));
    const attn = attentionContext(softmax(scores), v);
    const h = tanh(add(matmul(attn, p.w1), p.b1));
    return mean(square(sub(h, p.target)));
  }

  /** The same block in float64 on the host, for the loss value. */
  function blockReference(p: Record<string, { data: number[]; shape: number[] }>): number {
    const mm = (a: number[], [m, k]: number[], b: number[], n: number): number[] => {
      const out = new Array<number>(m! * n).fill(0);
      for (let i = 0; i < m!; i++) for (let j = 0; j < n; j++) for (let t = 0; t < k!; t++) out[i * n + j] = out[i * n + j]! + a[i * k! + t]! * b[t * n + j]!;
      return out;
    };
    const [T, D] = p.x!.shape as [number, number];
    const H = p.w1!.shape[1]!;
    const q = mm(p.x!.data, [T, D], p.wq!.data, D);
    const k = mm(p.x!.data, [T, D], p.wk!.data, D);
    const v = mm(p.x!.data, [T, D], p.wv!.data, D);
    const attn = new Array<number>(T * D).fill(0);
    for (let i = 0; i < T; i++) {
      const s = Array.from({ length: T }, (_, j) => {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[i * D + d]! * k[j * D + d]!;
        return dot / Math.sqrt(D);
      });
      const m = Math.max(...s);
      const e = s.map((z) => Math.exp(z - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < T; j++) for (let d = 0; d < D; d++) attn[i * D + d] = attn[i * D + d]! + (e[j]! / z) * v[j * D + d]!;
    }
    const pre = mm(attn, [T, D], p.w1!.data, H);
    let loss = 0;
    for (let i = 0; i < T * H; i++) loss += (Math.tanh(pre[i]! + p.b1!.data[i % H]!) - p.target!.data[i]!) ** 2;
    return loss / (T * H);
  }

  /** Seeded block inputs of the given shapes on the GPU and the host; the weights require grad. */
  function blockInputs(
    spec: Record<BlockName, readonly number[]>,
    seed: number,
  ): { p: Record<BlockName, Tensor>; host: Record<string, { data: number[]; shape: number[] }>; params: Tensor[] } {
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const host: Record<string, { data: number[]; shape: number[] }> = {};
    const p = {} as Record<BlockName, Tensor>;
    for (const [name, shape] of Object.entries(spec) as [BlockName, readonly number[]][]) {
      const data = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 0.5 * rand());
      host[name] = { data, shape: [...shape] };
      p[name] = Tensor.fromArray(data, shape);
      if (name !== 'x' && name !== 'target') p[name].setRequiresGrad();
    }
    return { p, host, params: [p.wq, p.wk, p.wv, p.w1, p.b1] };
  }

  it('keeps live GPU bytes and buffer count flat over 1,000 forward + backward runs', async () => {
    const rt = runtime();
    const T = 4;
    const D = 8;
    const H = 6;
    const { p, host, params } = blockInputs({ x: [T, D], wq: [D, D], wk: [D, D], wv: [D, D], w1: [D, H], b1: [H], target: [T, H] }, 7);
    const expectedLoss = blockReference(host);

    let at10: ReturnType<typeof rt.memory> | null = null;
    let grads10: Float32Array[] = [];
    for (let iteration = 1; iteration <= 1000; iteration++) {
      const loss = tidy(() => {
        const l = block(p);
        backward(l);
        return l;
      });
      if (iteration === 10 || iteration === 1000 || iteration % 97 === 0) {
        expectClose([await loss.item()], [expectedLoss], { rtol: 1e-5, atol: 1e-6 }, `loss at iteration ${iteration}`);
      }
      if (iteration === 10) {
        grads10 = (await Promise.all(params.map((w) => w.grad!.toArray()))) as Float32Array[];
      }
      if (iteration === 1000) {
        const grads = await Promise.all(params.map((w) => w.grad!.toArray()));
        grads.forEach((g, i) => expectClose(g, grads10[i]!, { rtol: 1e-6, atol: 1e-7 }, `grad ${i} at 1000 vs 10`));
        expect(grads10.some((g) => g.some((v) => v !== 0))).toBe(true);
      }
      loss.dispose();
      for (const w of params) {
        w.grad?.dispose();
        w.grad = null;
      }
      if (iteration === 10) at10 = rt.memory();
      if (iteration === 1000) {
        const now = rt.memory();
        expect(now.liveBytes).toBe(at10!.liveBytes);
        expect(now.liveBuffers).toBe(at10!.liveBuffers);
        expect(now.created).toBe(at10!.created); // warm pool: no new buffers after the first runs
      }
    }
    const leftover = live();
    for (const t of Object.values(p)) t.dispose();
    expect(live()).toBeLessThan(leftover);
  });

  it('keeps buffers and packing textures flat over 60 runs whose products are packed (64 tokens)', async () => {
    const rt = runtime();
    const { p, host, params } = blockInputs({ x: [64, 16], wq: [16, 16], wk: [16, 16], wv: [16, 16], w1: [16, 96], b1: [96], target: [64, 96] }, 11);
    const expectedLoss = blockReference(host);
    let at10: [ReturnType<typeof rt.memory>, ReturnType<typeof rt.textures.snapshot>] | null = null;
    for (let iteration = 1; iteration <= 60; iteration++) {
      const loss = tidy(() => {
        const l = block(p);
        backward(l);
        return l;
      });
      expect(rt.textures.snapshot().liveBytes).toBe(0); // released as soon as each product is recorded
      if (iteration === 10 || iteration === 60) {
        expectClose([await loss.item()], [expectedLoss], { rtol: 1e-5, atol: 1e-6 }, `loss at iteration ${iteration}`);
      }
      loss.dispose();
      for (const w of params) {
        w.grad?.dispose();
        w.grad = null;
      }
      if (iteration === 10) at10 = [rt.memory(), rt.textures.snapshot()];
    }
    const [buffers, textures] = [rt.memory(), rt.textures.snapshot()];
    expect([buffers.liveBytes, buffers.liveBuffers, buffers.created]).toEqual([at10![0].liveBytes, at10![0].liveBuffers, at10![0].created]);
    expect([textures.created, textures.idleBytes]).toEqual([at10![1].created, at10![1].idleBytes]);
    // On an adapter that packs (lavapipe: 8-lane subgroups), this loop did pack.
    if (rt.adapterInfo.isSoftware && rt.adapterInfo.subgroupSize === 8) expect(textures.created).toBeGreaterThan(0);
    for (const t of Object.values(p)) t.dispose();
  });
});
