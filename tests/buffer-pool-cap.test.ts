/**
 * The buffer pool's idle cap (kernels/bufferPool.ts `IdleCap`): by default room for the working
 * set (twice the largest live set, less what is live, never under a floor), or a fixed number of
 * bytes. Pools of their own on the test device, with small floors, so the rule shows at KiB scale.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { runtime } from '../kernels/runtime.js';
import { BufferPool, WORKING_SET_CAP, type IdleCap } from '../kernels/bufferPool.js';

beforeAll(async () => {
  await gpu();
});

const KiB = 1024;
const poolWith = (cap: IdleCap): BufferPool => new BufferPool(runtime().device, cap, (b) => b.destroy());

describe('the working-set cap', () => {
  it('keeps every buffer of work that repeats, so the second run creates none', () => {
    const pool = poolWith({ floorBytes: 0 });
    const run = (): void => {
      // A forward's tensors, then a backward's of other sizes, with both alive at the peak.
      const forward = [1, 2, 4].map((k) => pool.acquire(k * KiB));
      const backward = [3, 5].map((k) => pool.acquire(k * KiB));
      for (const b of [...forward, ...backward]) pool.release(b);
    };
    run();
    const first = pool.snapshot();
    expect(first.created).toBe(5);
    expect(first.idleBytes).toBe(15 * KiB);
    run();
    expect(pool.snapshot()).toEqual(first); // nothing created, nothing destroyed
  });

  it('never holds more than twice the largest live set, live and idle together', () => {
    const pool = poolWith({ floorBytes: 0 });
    const peak = [1, 2, 4].map((k) => pool.acquire(k * KiB));
    for (const b of peak) pool.release(b); // largest live set: 7 KiB
    // Work of new sizes, one buffer at a time: each is created, then parked idle.
    for (const k of [3, 5, 6, 7]) {
      const b = pool.acquire(k * KiB);
      const now = pool.snapshot();
      expect(now.liveBytes).toBe(k * KiB);
      pool.release(b);
      const after = pool.snapshot();
      expect(after.idleBytes).toBeLessThanOrEqual(2 * 7 * KiB);
      expect(pool.maxIdleBytes).toBe(2 * 7 * KiB);
    }
    const end = pool.snapshot();
    // 1+2+4+3+5+6+7 = 28 KiB released; the oldest went until 14 KiB or less stayed idle.
    expect(end.destroyed).toBeGreaterThan(0);
    expect(end.idleBytes).toBe(13 * KiB); // 6 + 7: the newest, as many as fit
    // While something is live, the idle room shrinks by it.
    const held = pool.acquire(4 * KiB);
    expect(pool.maxIdleBytes).toBe(2 * 7 * KiB - 4 * KiB);
    pool.release(held);
  });

  it('keeps at least its floor', () => {
    const pool = poolWith({ floorBytes: 64 * KiB });
    const buffers = [8, 16].map((k) => pool.acquire(k * KiB));
    for (const b of buffers) pool.release(b);
    expect(pool.maxIdleBytes).toBe(64 * KiB);
    expect(pool.snapshot().idleBytes).toBe(24 * KiB);
    expect(pool.snapshot().destroyed).toBe(0);
  });

  it('hands every idle buffer back on evict()', () => {
    const pool = poolWith({ floorBytes: 0 });
    for (const b of [1, 2].map((k) => pool.acquire(k * KiB))) pool.release(b);
    pool.evict();
    expect(pool.snapshot()).toMatchObject({ idleBytes: 0, destroyed: 2 });
  });

  it("is the runtime's default, with a 512 MiB floor (no LRP_POOL_IDLE_MB in the test environment)", () => {
    expect(process.env.LRP_POOL_IDLE_MB ?? '').toBe('');
    expect(WORKING_SET_CAP).toEqual({ floorBytes: 512 * 2 ** 20 });
    const { liveBytes } = runtime().memory();
    expect(runtime().pool.maxIdleBytes).toBeGreaterThanOrEqual(Math.max(512 * 2 ** 20, liveBytes));
  });
});

describe('a fixed cap', () => {
  it('keeps at most its bytes idle, whatever the work held live', () => {
    const pool = poolWith({ fixedBytes: 3 * KiB });
    const buffers = [1, 2, 4].map((k) => pool.acquire(k * KiB));
    for (const b of buffers) pool.release(b);
    expect(pool.maxIdleBytes).toBe(3 * KiB);
    // Released 1, 2, then 4: at 7 KiB the oldest two go, and the 4 KiB one alone is over the cap too.
    expect(pool.snapshot()).toMatchObject({ idleBytes: 0, destroyed: 3 });
  });
});
