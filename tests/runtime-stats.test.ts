/**
 * The runtime statistics API (kernels/stats.ts): dispatch, submit and pipeline counts of a known
 * sequence of dispatches, per-kernel counts, the pool's peak bytes, and meters that overlap.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { runtime } from '../kernels/runtime.js';
import { measure, startMeter } from '../kernels/stats.js';
import { header } from '../kernels/wgsl/common.js';
import { sizeClass } from '../kernels/bufferPool.js';
import { Tensor, add, mul, noGrad, tidy } from '../autograd/index.js';

beforeAll(async () => {
  await gpu();
});

function incrementWgsl(): string {
  return `${header([{ name: 'buf', access: 'read_write', type: 'u32' }])}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < p[0]) { buf[gid.x] = buf[gid.x] + 1u; }
}`;
}

describe('measure', () => {
  it('counts the dispatches, submits and new pipelines of a known sequence', async () => {
    const rt = runtime();
    const key = `test/stats-increment/${Date.now()}`;
    const other = `${key}/other`;
    const buffer = rt.pool.acquire(256 * 4);
    await rt.sync();
    const { value, stats, kernels } = await measure(
      async () => {
        for (let k = 0; k < 5; k++) rt.dispatch({ key, wgsl: incrementWgsl, bindings: [buffer], params: new Uint32Array([256]), workgroups: 4 });
        rt.flush();
        for (let k = 0; k < 2; k++) rt.dispatch({ key: other, wgsl: incrementWgsl, bindings: [buffer], params: new Uint32Array([64]), workgroups: 1 });
        // Zero workgroups record nothing and are not counted.
        rt.dispatch({ key, wgsl: incrementWgsl, bindings: [buffer], params: new Uint32Array([0]), workgroups: 0 });
        return new Uint32Array(await rt.read(buffer, 0, 256 * 4));
      },
      { byKernel: true },
    );
    rt.pool.release(buffer);
    expect(value[0]).toBe(7);
    expect(value[255]).toBe(5);
    expect(stats.dispatches).toBe(7);
    expect(stats.submits).toBe(2); // the explicit flush, then the read's
    expect(stats.newPipelines).toBe(2);
    expect(kernels).toEqual([
      { key, dispatches: 5, workgroups: 20 },
      { key: other, dispatches: 2, workgroups: 2 },
    ]);
  });

  it('counts one dispatch per elementwise op of a tensor expression', async () => {
    const a = Tensor.fromArray(new Float32Array([1, 2, 3, 4]), [4]);
    const b = Tensor.fromArray(new Float32Array([5, 6, 7, 8]), [4]);
    await runtime().sync();
    const { value, stats } = await measure(async () => {
      const c = tidy(() => noGrad(() => mul(add(a, b), b)));
      try {
        return Array.from((await c.toArray()) as Float32Array);
      } finally {
        c.dispose();
      }
    });
    a.dispose();
    b.dispose();
    expect(value).toEqual([30, 48, 70, 96]);
    expect(stats.dispatches).toBe(2);
    expect(stats.submits).toBe(1);
  });

  it('records the pool peak, live and live + idle, reached inside the measured work', async () => {
    const rt = runtime();
    await rt.sync();
    const bytes = 3 * 2 ** 20 + 4;
    const before = rt.memory();
    const { stats } = await measure(() => {
      const first = rt.pool.acquire(bytes);
      const second = rt.pool.acquire(bytes);
      rt.pool.release(first);
      rt.pool.release(second);
    });
    // Both buffers were live at once (taken from the idle set or newly created: either way live).
    expect(stats.peakLiveBytes).toBeGreaterThanOrEqual(before.liveBytes + 2 * sizeClass(bytes));
    expect(stats.peakPoolBytes).toBeGreaterThanOrEqual(stats.peakLiveBytes);
    expect(stats.peakPoolBytes).toBeGreaterThanOrEqual(before.liveBytes + before.idleBytes);
    // The peak stays after the release; a later meter starts from the present level.
    const later = startMeter(rt).stop();
    const now = rt.memory();
    expect(later.peakLiveBytes).toBe(now.liveBytes);
    expect(later.peakPoolBytes).toBe(now.liveBytes + now.idleBytes);
  });

  it('lets meters overlap: an inner measurement does not reset the outer one', async () => {
    const rt = runtime();
    const key = `test/stats-nested/${Date.now()}`;
    const buffer = rt.pool.acquire(64 * 4);
    const run = (n: number): void => {
      for (let k = 0; k < n; k++) rt.dispatch({ key, wgsl: incrementWgsl, bindings: [buffer], params: new Uint32Array([64]), workgroups: 1 });
    };
    const outer = startMeter(rt);
    run(3);
    const inner = await measure(() => run(4));
    run(1);
    await rt.sync();
    const total = outer.stop();
    rt.pool.release(buffer);
    expect(inner.stats.dispatches).toBe(4);
    expect(inner.stats.submits).toBe(0); // nothing was submitted inside it
    expect(total.dispatches).toBe(8);
    expect(total.submits).toBe(1);
    // Stopped meters are frozen.
    run(0);
    expect(outer.read()).toEqual(total);
  });
});
