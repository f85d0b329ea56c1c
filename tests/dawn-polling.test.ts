/**
 * Dawn's binding polls for finished GPU work with setImmediate as fast as the event loop turns;
 * the runtime's start-up in Node throttles that (kernels/dawnPolling.ts) so that the polling does
 * not take a core from a CPU adapter's threads. Only the binding's kind of callback (a native
 * function without a name) is throttled, after half a millisecond of spinning; everything else
 * passes through.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { SPIN_MS } from '../kernels/dawnPolling.js';
import { Tensor } from '../autograd/tensor.js';

beforeAll(async () => {
  await gpu(); // starts Dawn, which installs the throttle
});

/** How many times `schedule` re-arms itself within `ms` milliseconds. */
async function rate(schedule: () => Promise<void>, ms: number): Promise<number> {
  const start = performance.now();
  let count = 0;
  while (performance.now() - start < ms) {
    await schedule();
    count++;
  }
  return count;
}

describe('Dawn polling throttle', () => {
  it('spins for the first half millisecond, then polls at most about once per millisecond', async () => {
    // A promise's resolve function is a native function without a name, like the binding's callback.
    const nativePolls = await rate(() => new Promise<void>((resolve) => setImmediate(resolve)), 100);
    expect(SPIN_MS).toBeLessThan(1);
    // Unthrottled: over 10,000 in 100 ms here; throttled: the spin, then about one per millisecond.
    expect(nativePolls).toBeLessThan(1000);
    expect(nativePolls).toBeGreaterThan(10);
  });

  it('passes other callbacks through as setImmediate, at full speed', async () => {
    const jsPolls = await rate(() => new Promise<void>((resolve) => setImmediate(() => resolve())), 100);
    expect(jsPolls).toBeGreaterThan(2000);
    // Arguments are passed on.
    const tag = await new Promise<string>((resolve) => setImmediate((value: string) => resolve(value), 'passed'));
    expect(tag).toBe('passed');
  });

  it('GPU reads still complete, small ones without waiting for a timer', async () => {
    const t = Tensor.fromArray(new Float32Array([1, 2, 3]), [3]);
    const start = performance.now();
    for (let i = 0; i < 20; i++) expect(Array.from(await t.toArray())).toEqual([1, 2, 3]);
    expect(performance.now() - start).toBeLessThan(2000);
    t.dispose();
  });
});
