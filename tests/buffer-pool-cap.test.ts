/**
 * The buffer pool's idle cap (kernels/bufferPool.ts `IdleCap`): by default room for the working
 * set (live and idle together within `WORKING_SET_SLACK` times the largest live set, idle never
 * under a floor), or a fixed number of bytes. Pools of their own on the test device, with small
 * floors, so the rule shows at KiB scale.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { runtime } from '../kernels/runtime.js';
import { BufferPool, WORKING_SET_CAP, WORKING_SET_SLACK, type IdleCap } from '../kernels/bufferPool.js';

beforeAll(async () => {
  await gpu();
});

const KiB = 1024;
const poolWith = (cap: IdleCap): BufferPool => new BufferPool(runtime().device, cap, (b) => b.destroy());
const held = (pool: BufferPool): number => pool.snapshot().liveBytes + pool.snapshot().idleBytes;

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

  it('holds live and idle together within the slack over the largest live set, before and after each new buffer', () => {
    expect(WORKING_SET_SLACK).toBe(1.25);
    const pool = poolWith({ floorBytes: 0 });
    const peak = [4, 4, 8].map((k) => pool.acquire(k * KiB));
    for (const b of peak) pool.release(b); // largest live set: 16 KiB; room for 20 KiB in all
    expect(pool.maxIdleBytes).toBe(20 * KiB);
    // Work of other sizes (inputs of another length), one buffer at a time.
    for (const k of [6, 3, 7, 5]) {
      const b = pool.acquire(k * KiB);
      expect(held(pool), `after taking ${k} KiB`).toBeLessThanOrEqual(20 * KiB);
      pool.release(b);
      expect(held(pool), `after releasing ${k} KiB`).toBeLessThanOrEqual(20 * KiB);
    }
    const end = pool.snapshot();
    expect(end.destroyed).toBeGreaterThan(0);
    // Released, oldest first: 4, 4, 8, then 6, 3, 7, 5; what stays is the newest that fit.
    expect(end.idleBytes).toBe(15 * KiB); // 3 + 7 + 5
    // While something is live, the idle room shrinks by it.
    const live = pool.acquire(5 * KiB);
    expect(pool.maxIdleBytes).toBe(15 * KiB);
    pool.release(live);
  });

  it('keeps at least its floor idle', () => {
    const pool = poolWith({ floorBytes: 64 * KiB });
    const buffers = [8, 16].map((k) => pool.acquire(k * KiB));
    for (const b of buffers) pool.release(b);
    expect(pool.maxIdleBytes).toBe(64 * KiB);
    expect(pool.snapshot()).toMatchObject({ idleBytes: 24 * KiB, destroyed: 0 });
  });

  it('trims the idle buffers before creating weights of an exact size too', () => {
    const pool = poolWith({ floorBytes: 0 });
    for (const b of [4, 4].map((k) => pool.acquire(k * KiB))) pool.release(b); // peak 8 KiB, 8 idle
    const weights = pool.acquireExact(8 * KiB); // live 8 → room for 10 in all: 2 idle, so both 4s go
    expect(pool.snapshot()).toMatchObject({ liveBytes: 8 * KiB, idleBytes: 0, destroyed: 2 });
    pool.destroy(weights);
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
    expect(runtime().pool.maxIdleBytes).toBeGreaterThanOrEqual(512 * 2 ** 20);
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
