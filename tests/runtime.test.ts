/**
 * The GPU runtime: adapter report, pipeline cache, batching, readback, the binding-size limit and
 * how errors (no adapter, bad WGSL, Dawn validation) reach the caller. A missing adapter fails
 * `beforeAll`, so every test here fails rather than skips.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { runtime } from '../kernels/runtime.js';
import { dawnNoAdapterError } from '../kernels/dawn.js';
import { allocate } from '../kernels/view.js';
import { header } from '../kernels/wgsl/common.js';
import { Tensor, add, contiguous, expand, full, mul, permute, slice, sub, tidy } from '../autograd/index.js';

beforeAll(async () => {
  await gpu();
});

/** `buf[i] += 1` for i < p[0]: one dispatch that depends on the previous one's result. */
function incrementWgsl(): string {
  return `${header([{ name: 'buf', access: 'read_write', type: 'u32' }])}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < p[0]) { buf[gid.x] = buf[gid.x] + 1u; }
}`;
}

/** Every workgroup writes its flat id + 1: proves the x/y folding of large workgroup counts. */
function workgroupIdWgsl(): string {
  return `${header([{ name: 'out', access: 'read_write', type: 'u32' }])}
@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let wid = wg.x + wg.y * nwg.x;
  if (wid < p[0]) { out[wid] = wid + 1u; }
}`;
}

async function readU32(buffer: GPUBuffer, count: number): Promise<Uint32Array> {
  return new Uint32Array(await runtime().read(buffer, 0, count * 4));
}

describe('adapter', () => {
  it('reports the adapter it runs on', () => {
    const info = runtime().adapterInfo;
    for (const field of ['vendor', 'architecture', 'device', 'description'] as const) expect(typeof info[field]).toBe('string');
    expect(`${info.vendor}${info.architecture}${info.device}${info.description}`.length).toBeGreaterThan(0);
    expect(typeof info.isSoftware).toBe('boolean');
    if (/llvmpipe|lavapipe/i.test(`${info.description} ${info.device} ${info.architecture}`)) expect(info.isSoftware).toBe(true);
  });

  it('asks for the adapter limits a transformer needs', () => {
    const rt = runtime();
    expect(rt.limits.maxStorageBufferBindingSize).toBe(rt.adapter!.limits.maxStorageBufferBindingSize);
    expect(rt.limits.maxComputeInvocationsPerWorkgroup).toBe(rt.adapter!.limits.maxComputeInvocationsPerWorkgroup);
    expect(rt.maxBindingBytes).toBe(Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize));
    expect(rt.maxBindingBytes).toBeGreaterThanOrEqual(128 * 2 ** 20);
  });

  it('names the fix when Dawn finds no adapter', () => {
    const error = dawnNoAdapterError('requestAdapter() returned null');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('NoAdapterError');
    expect(error.message).toContain('requestAdapter() returned null');
    expect(error.message).toContain('scripts/setup.sh');
    expect(error.message).toContain('LRP_ADAPTER');
    expect(error.message).toMatch(/lavapipe/);
  });

  /**
   * Second copies of the runtime module and of the Dawn starter, so `initRuntime` really starts
   * again with other options.
   */
  async function freshRuntimeModule(): Promise<typeof import('../kernels/runtime.js') & typeof import('../kernels/dawn.js')> {
    vi.resetModules();
    const core = await import('../kernels/runtime.js');
    const dawn = await import('../kernels/dawn.js');
    return { ...core, ...dawn };
  }

  it('throws NoAdapterError naming scripts/setup.sh when Dawn finds no adapter', async () => {
    // Dawn's OpenGL backend gives no adapter on these machines: requestAdapter() resolves to null.
    const fresh = await freshRuntimeModule();
    const start = fresh.initRuntime({ backend: 'opengl' });
    await expect(start).rejects.toThrow(/No WebGPU adapter was found \(requestAdapter\(\) with backend=opengl returned null\)/);
    await expect(start).rejects.toThrow(/mesa-vulkan-drivers.*scripts\/setup\.sh/);
    await expect(start).rejects.toMatchObject({ name: 'NoAdapterError' });
    expect(fresh.hasRuntime()).toBe(false);
  });

  it('turns an unknown LRP_ADAPTER into NoAdapterError that lists the adapters Dawn has', async () => {
    const fresh = await freshRuntimeModule();
    const start = fresh.initRuntime({ adapter: 'no-such-adapter' });
    await expect(start).rejects.toMatchObject({ name: 'NoAdapterError' });
    await expect(start).rejects.toThrow(/requestAdapter\(\) with adapter=no-such-adapter failed: .*Available adapters/s);
    // The process-wide runtime is untouched.
    expect(runtime().device).toBeDefined();
  });
});

describe('pipeline cache', () => {
  it('compiles each variant once, however often it runs', async () => {
    const rt = runtime();
    let generated = 0;
    const wgsl = (): string => {
      generated++;
      return incrementWgsl();
    };
    const key = `test/increment/${Date.now()}`;
    const buffer = rt.pool.acquire(64 * 4);
    const zero = full([64], 0, 'i32');
    rt.copy(zero.buffer, 0, buffer, 0, 64 * 4);
    zero.dispose();
    const before = rt.counters().pipelines;
    for (let k = 0; k < 5; k++) rt.dispatch({ key, wgsl, bindings: [buffer], params: new Uint32Array([64]), workgroups: 1 });
    expect(generated).toBe(1);
    expect(rt.counters().pipelines - before).toBe(1);
    expect(Array.from(await readU32(buffer, 64))).toEqual(new Array(64).fill(5));
    rt.pool.release(buffer);
  });

  it('reuses elementwise variants across calls and compiles a new one per new variant', async () => {
    const rt = runtime();
    const a = Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = Tensor.fromArray([10, 20, 30]);
    tidy(() => add(a, b)); // warm the variant
    const warm = rt.counters().pipelines;
    const c = tidy(() => add(a, b));
    tidy(() => add(add(a, b), b));
    expect(rt.counters().pipelines).toBe(warm);
    expect(Array.from(await c.toArray())).toEqual([11, 22, 33, 14, 25, 36]);
    // A rank-3 permuted view cannot be coalesced: a `sub` variant this file has not compiled yet.
    const x = Tensor.fromArray(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
    const first = tidy(() => sub(permute(x, [2, 1, 0]), Tensor.fromArray([1])));
    expect(rt.counters().pipelines).toBe(warm + 1);
    const second = tidy(() => sub(permute(x, [2, 1, 0]), Tensor.fromArray([2])));
    expect(rt.counters().pipelines).toBe(warm + 1);
    const f = await first.toArray();
    const s = await second.toArray();
    // first[k][j][i] = x[i][j][k] - 1
    expect(f[0]).toBe(-1);
    expect(f[1]).toBe(12 - 1);
    expect(f[2]).toBe(4 - 1);
    expect(s[23]).toBe(23 - 2);
    for (const t of [a, b, c, x, first, second]) t.dispose();
  });
});

describe('batching', () => {
  it('records many dispatches into one submit, in order', async () => {
    const rt = runtime();
    await rt.sync();
    const buffer = rt.pool.acquire(64 * 4);
    const zero = full([64], 0, 'i32');
    rt.copy(zero.buffer, 0, buffer, 0, 64 * 4);
    zero.dispose();
    const before = rt.counters();
    const rounds = 300;
    for (let k = 0; k < rounds; k++) {
      rt.dispatch({ key: 'test/increment', wgsl: incrementWgsl, bindings: [buffer], params: new Uint32Array([64]), workgroups: 1 });
    }
    expect(rt.counters().submits).toBe(before.submits); // nothing submitted before the read
    const values = await readU32(buffer, 64);
    const after = rt.counters();
    expect(after.dispatches - before.dispatches).toBe(rounds);
    expect(after.submits - before.submits).toBe(1);
    expect(Array.from(values)).toEqual(new Array(64).fill(rounds));
    rt.pool.release(buffer);
  });

  it('splits very long batches into a few submits', async () => {
    const rt = runtime();
    await rt.sync();
    const buffer = rt.pool.acquire(16);
    const zero = full([4], 0, 'i32');
    rt.copy(zero.buffer, 0, buffer, 0, 16);
    zero.dispose();
    const before = rt.counters().submits;
    const rounds = 2500;
    for (let k = 0; k < rounds; k++) {
      rt.dispatch({ key: 'test/increment', wgsl: incrementWgsl, bindings: [buffer], params: new Uint32Array([4]), workgroups: 1 });
    }
    const values = await readU32(buffer, 4);
    const submits = rt.counters().submits - before;
    expect(submits).toBeGreaterThanOrEqual(1);
    expect(submits).toBeLessThanOrEqual(5);
    expect(Array.from(values)).toEqual([rounds, rounds, rounds, rounds]);
    rt.pool.release(buffer);
  });

  it('folds more than 65535 workgroups into x and y', async () => {
    const rt = runtime();
    const n = 70_001;
    const buffer = rt.pool.acquire(n * 4);
    rt.dispatch({ key: 'test/workgroup-id', wgsl: workgroupIdWgsl, bindings: [buffer], params: new Uint32Array([n]), workgroups: n });
    const values = await readU32(buffer, n);
    let bad = -1;
    for (let i = 0; i < n; i++) if (values[i] !== i + 1) { bad = i; break; }
    expect(bad, `first wrong workgroup id at ${bad}`).toBe(-1);
    rt.pool.release(buffer);
  });

  it('treats a dispatch of zero workgroups as nothing to do', () => {
    const rt = runtime();
    const before = rt.counters().dispatches;
    rt.dispatch({ key: 'test/never-compiled', wgsl: () => 'not wgsl', bindings: [], params: new Uint32Array(0), workgroups: 0 });
    expect(rt.counters().dispatches).toBe(before);
  });
});

/** `buf[0]` = a hash iterated `p[0]` times by one invocation: a dispatch whose time grows with p[0]. */
function spinWgsl(): string {
  return `${header([{ name: 'buf', access: 'read_write', type: 'u32' }])}
@compute @workgroup_size(1)
fn main() {
  var h = buf[0];
  for (var k = 0u; k < p[0]; k++) { h = h * 1664525u + 1013904223u; }
  buf[0] = h;
}`;
}

describe('dispatch timing (timestamp queries)', () => {
  it('times every dispatch under its tag, across submits, without changing results', async () => {
    const rt = runtime();
    expect(rt.canTimeDispatches).toBe(true); // lavapipe has timestamp-query
    const buffer = rt.pool.acquire(64 * 4);
    const zero = full([64], 0, 'i32');
    rt.copy(zero.buffer, 0, buffer, 0, 64 * 4);
    zero.dispose();
    rt.dispatch({ key: 'test/increment', wgsl: incrementWgsl, bindings: [buffer], params: new Uint32Array([64]), workgroups: 1 }); // before: not timed
    let k = 0;
    const timing = rt.timeDispatches((launch) => (launch.key === 'test/spin' ? 'spin' : k++ % 2 === 0 ? 'even' : 'odd'));
    expect(() => rt.timeDispatches(() => 'x')).toThrow(/already runs/);
    const spin = rt.pool.acquire(4);
    rt.dispatch({ key: 'test/spin', wgsl: spinWgsl, bindings: [spin], params: new Uint32Array([2_000_000]), workgroups: 1 });
    const before = rt.counters().submits;
    for (let r = 0; r < 2500; r++) rt.dispatch({ key: 'test/increment', wgsl: incrementWgsl, bindings: [buffer], params: new Uint32Array([64]), workgroups: 1 });
    const times = await timing.stop();
    expect(rt.counters().submits - before).toBeGreaterThanOrEqual(3); // 2,500 dispatches span submits
    const byTag = Object.fromEntries(times.map((t) => [t.tag, t]));
    expect([byTag['even']!.dispatches, byTag['odd']!.dispatches, byTag['spin']!.dispatches]).toEqual([1250, 1250, 1]);
    // Two million dependent steps take far longer than a 64-element increment.
    expect(byTag['spin']!.seconds).toBeGreaterThan(1e-3);
    expect(byTag['spin']!.seconds).toBeGreaterThan(20 * (byTag['even']!.seconds / 1250));
    expect(times.map((t) => t.seconds)).toEqual([...times.map((t) => t.seconds)].sort((a, b) => b - a));
    expect(Array.from(await readU32(buffer, 64))).toEqual(new Array(64).fill(2501));
    // Timing has stopped: a new one may start, and untimed dispatches are not counted by it.
    rt.dispatch({ key: 'test/increment', wgsl: incrementWgsl, bindings: [buffer], params: new Uint32Array([64]), workgroups: 1 });
    const again = rt.timeDispatches(() => 'again');
    expect(await again.stop()).toEqual([]);
    rt.pool.release(buffer);
    rt.pool.release(spin);
  });
});

describe('copy timing', () => {
  it('times buffer and texture copies under copy tags (each between two empty timed passes), and the data arrives', async () => {
    const rt = runtime();
    const bytes = 32 * 2 ** 20;
    const source = Tensor.fromArray(new Float32Array(bytes / 4).map((_, i) => i % 1000));
    const [big, small] = [rt.pool.acquire(bytes), rt.pool.acquire(256)];
    const texture = rt.textures.acquire(16, 4, 1); // 16 texels × 16 bytes = one 256-byte copy row
    const tags: string[] = [];
    const timing = rt.timeDispatches((work) => {
      tags.push(work.key);
      return work.key.startsWith('copy/') ? `${work.key} ${tags.length}` : 'dispatch';
    });
    rt.copy(source.buffer, 0, big, 0, bytes);
    rt.copy(source.buffer, 0, small, 0, 256);
    rt.copyToTexture(source.buffer, 256, texture);
    const times = await timing.stop();
    expect(tags).toEqual(['copy/bufferToBuffer', 'copy/bufferToBuffer', 'copy/bufferToTexture']);
    const byTag = Object.fromEntries(times.map((t) => [t.tag.split(' ')[0] + (t.tag.endsWith(' 1') ? ':big' : ''), t]));
    expect(times.map((t) => t.dispatches)).toEqual([1, 1, 1]);
    // 32 MiB take measurably longer than 256 bytes: the span is the copy's, not zero or the passes'.
    expect(byTag['copy/bufferToBuffer:big']!.seconds).toBeGreaterThan(1e-4);
    expect(byTag['copy/bufferToBuffer:big']!.seconds).toBeGreaterThan(byTag['copy/bufferToBuffer']!.seconds);
    const read = await readU32(big, bytes / 4);
    expect(new Float32Array(read.buffer).slice(-3)).toEqual(new Float32Array([(bytes / 4 - 3) % 1000, (bytes / 4 - 2) % 1000, (bytes / 4 - 1) % 1000]));
    rt.textures.release(texture);
    rt.pool.release(big);
    rt.pool.release(small);
    source.dispose();
  });
});

describe('copy timing in a full submit', () => {
  it('copies and dispatches past one submit’s queries are all timed (the runtime submits when they run out)', async () => {
    const rt = runtime();
    const buffer = rt.pool.acquire(64 * 4);
    const source = Tensor.fromArray(new Int32Array(64).fill(7), [64], 'i32');
    const timing = rt.timeDispatches((work) => (work.key.startsWith('copy/') ? 'copy' : 'dispatch'));
    for (let k = 0; k < 700; k++) {
      rt.copy(source.buffer, 0, buffer, 0, 64 * 4);
      rt.dispatch({ key: 'test/increment', wgsl: incrementWgsl, bindings: [buffer], params: new Uint32Array([64]), workgroups: 1 });
      // An upload through the staging ring now and then, while the queries run out too.
      if (k % 100 === 0) rt.upload(buffer, new Uint8Array(new Int32Array(64).fill(7).buffer));
    }
    const times = await timing.stop();
    const byTag = Object.fromEntries(times.map((t) => [t.tag, t.dispatches]));
    expect(byTag).toEqual({ copy: 707, dispatch: 700 });
    expect(Array.from(await readU32(buffer, 64))).toEqual(new Array(64).fill(8));
    rt.pool.release(buffer);
    source.dispose();
  });
});

describe('uploads', () => {
  it('arrive intact through the staging buffers: larger than one, and more than fit in one before a submit', async () => {
    const rt = runtime();
    await rt.sync();
    const submits = rt.counters().submits;
    // 9 MiB in one tensor: spans three 4 MiB staging buffers.
    const big = new Float32Array((9 * 2 ** 20) / 4).map((_, i) => (i % 4099) - 2000);
    const t = Tensor.fromArray(big);
    // 1,200 uploads of 4 KiB with a dispatch reading each, nothing read back in between (4.7 MiB).
    const sums = Array.from({ length: 1200 }, (_, k) => {
      const u = Tensor.fromArray(new Float32Array(1024).fill(k));
      const doubled = add(u, u);
      u.dispose();
      return doubled;
    });
    expect(rt.counters().submits - submits).toBeGreaterThanOrEqual(3); // the ring filled and forced submits
    const back = await t.toArray();
    expect(back.findIndex((v, i) => v !== big[i])).toBe(-1);
    for (const k of [0, 1, 599, 1023, 1024, 1199]) {
      const v = await sums[k]!.toArray();
      expect(v.every((x) => x === 2 * k), `upload ${k}`).toBe(true);
    }
    for (const x of [t, ...sums]) x.dispose();
  });
});

describe('readback', () => {
  it('reads any byte offset and size', async () => {
    const rt = runtime();
    const bytes = new Uint8Array(96);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + 11) & 0xff;
    const t = Tensor.fromArray(new Int32Array(bytes.buffer), [24], 'i32');
    for (const offset of [0, 1, 2, 3, 5, 6, 7, 13, 50, 95]) {
      for (const size of [0, 1, 2, 3, 4, 5, 7, 9, 17, 33]) {
        if (offset + size > bytes.length) continue;
        const got = new Uint8Array(await rt.read(t.buffer, offset, size));
        expect(Array.from(got), `offset ${offset}, size ${size}`).toEqual(Array.from(bytes.subarray(offset, offset + size)));
      }
    }
    t.dispose();
  });

  it('reads tensors that start at an odd element offset or are strided', async () => {
    const data = Array.from({ length: 15 }, (_, i) => i * 1.5 - 3);
    const t = Tensor.fromArray(data, [15]);
    const window = slice(t, 0, 3, 10); // contiguous, starts at element 3
    expect(window.offset).toBe(3);
    expect(Array.from(await window.toArray())).toEqual(data.slice(3, 10));
    const strided = slice(t, 0, 1, 14, 3);
    expect(Array.from(await strided.toArray())).toEqual([data[1], data[4], data[7], data[10], data[13]]);
    const one = slice(t, 0, 13, 14);
    expect(await one.item()).toBe(data[13]);
    const empty = slice(t, 0, 5, 5);
    expect(Array.from(await empty.toArray())).toEqual([]);
    for (const x of [t, window, strided, one, empty]) x.dispose();
  });

  it('Tensor.toArrays reads several tensors (views, i32, 16-bit, empty) in one submit, each as toArray does', async () => {
    const rt = runtime();
    const data = Array.from({ length: 12 }, (_, i) => i * 0.75 - 2);
    const t = Tensor.fromArray(data, [3, 4]);
    const ints = Tensor.fromArray([5, -6, 7], [3], 'i32');
    const half = Tensor.fromHalfBits(Uint16Array.from([0x3f80, 0xc000, 0x4040]), [3], 'bf16'); // 1, −2, 3
    const tensors = [t, permute(t, [1, 0]), slice(t, 1, 1, 3), ints, half, slice(t, 0, 2, 2)];
    await rt.sync();
    const submits = rt.counters().submits;
    const got = await Tensor.toArrays(tensors);
    expect(rt.counters().submits - submits).toBe(1);
    const one = await Promise.all(tensors.map((x) => x.toArray()));
    expect(got.map((a) => a.constructor.name)).toEqual(['Float32Array', 'Float32Array', 'Float32Array', 'Int32Array', 'Float32Array', 'Float32Array']);
    expect(got.map((a) => Array.from(a))).toEqual(one.map((a) => Array.from(a)));
    expect(Array.from(got[1]!)).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11].map((i) => data[i]));
    expect(Array.from(got[4]!)).toEqual([1, -2, 3]);
    expect(Array.from(got[5]!)).toEqual([]);
    expect(await Tensor.toArrays([])).toEqual([]);
    for (const x of tensors) x.dispose();
  });
});

describe('binding-size limit', () => {
  it('refuses an allocation larger than one binding before allocating', () => {
    const rt = runtime();
    const elements = rt.maxBindingBytes / 4 + 1;
    const before = rt.memory();
    expect(() => allocate('bigop', [elements], 'f32')).toThrow(
      new RegExp(`bigop: a f32 tensor of shape \\[${elements}\\] needs ${elements * 4} bytes, more than one GPU binding can address`),
    );
    const after = rt.memory();
    expect(after.created).toBe(before.created);
    expect(after.liveBytes).toBe(before.liveBytes);
    // Exactly at the limit is allowed by the check (not allocated here: that would be 128 MiB+).
  });

  it('refuses uploads and kernel outputs above the limit with a clear error', () => {
    const rt = runtime();
    const elements = rt.maxBindingBytes / 4 + 1;
    const before = rt.memory();
    // An array-like that is never read: the size check comes before any host or GPU allocation.
    const huge = { length: elements } as ArrayLike<number>;
    expect(() => Tensor.fromArray(huge, [elements])).toThrow(/fromArray: \d+ bytes exceed the adapter's binding limit of \d+; split the tensor/);
    expect(() => full([elements], 0)).toThrow(/fill: .*more than one GPU binding can address/);
    const small = Tensor.fromArray([1]);
    const view = expand(small, [elements]); // a view: no allocation
    expect(view.shape).toEqual([elements]);
    expect(() => contiguous(view)).toThrow(/copy: .*more than one GPU binding can address/);
    expect(() => mul(view, small)).toThrow(/mul: .*more than one GPU binding can address/);
    view.dispose();
    small.dispose();
    expect(rt.memory().created - before.created).toBeLessThanOrEqual(1); // only `small` (uploads reuse idle pooled buffers)
    expect(rt.memory().liveBytes).toBe(before.liveBytes);
  });
});

describe('errors', () => {
  it('reports WGSL compile errors with the message', async () => {
    const pipelines = runtime().pipelines;
    await expect(pipelines.compileChecked('test/good', incrementWgsl())).resolves.toBeUndefined();
    const bad = `${header([{ name: 'out', access: 'read_write', type: 'f32' }])}
@compute @workgroup_size(1)
fn main() { out[0] = undefined_name + 1.0; }`;
    await expect(pipelines.compileChecked('test/bad', bad)).rejects.toThrow(/WGSL for test\/bad does not compile:\n\d+:\d+ .*undefined_name/);
    // Reported by the rejection only: it must not surface again at some unrelated later read.
    await expect(runtime().sync()).resolves.toBeUndefined();
  });

  it('surfaces a WGSL error in an ordinary dispatch at the next read', async () => {
    const rt = runtime();
    await rt.sync();
    const buffer = rt.pool.acquire(16);
    const broken = `${header([{ name: 'out', access: 'read_write', type: 'f32' }])}
@compute @workgroup_size(1)
fn main() { out[0] = not_declared_anywhere; }`;
    rt.dispatch({ key: 'test/broken-wgsl', wgsl: () => broken, bindings: [buffer], params: new Uint32Array([0]), workgroups: 1 });
    await expect(rt.read(buffer, 0, 4)).rejects.toThrow(/WebGPU reported an error: .*not_declared_anywhere/s);
    await expect(rt.sync()).resolves.toBeUndefined(); // reported once
    rt.pool.release(buffer);
  });

  it('surfaces Dawn validation errors as a thrown error at the next read, then recovers', async () => {
    const rt = runtime();
    await rt.sync();
    const buffer = rt.pool.acquire(16);
    // The shader declares two buffers but the dispatch binds one: the bind group is invalid.
    const twoBuffers = `${header([
      { name: 'a', access: 'read', type: 'f32' },
      { name: 'b', access: 'read_write', type: 'f32' },
    ])}
@compute @workgroup_size(1)
fn main() { b[0] = a[0]; }`;
    rt.dispatch({ key: 'test/two-buffers', wgsl: () => twoBuffers, bindings: [buffer], params: new Uint32Array([0]), workgroups: 1 });
    await expect(rt.read(buffer, 0, 4)).rejects.toThrow(/WebGPU reported an error: .*(bind ?group|entries|binding)/is);
    // Reported once; the device still works.
    const x = Tensor.fromArray([1, 2, 3]);
    const y = add(x, x);
    expect(Array.from(await y.toArray())).toEqual([2, 4, 6]);
    for (const t of [x, y]) t.dispose();
    rt.pool.release(buffer);
  });
});
