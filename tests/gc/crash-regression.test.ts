/**
 * Regression test for the Dawn lifetime crash (docs/runtime.md, "Lifetime"): when the object returned by
 * `create()` is garbage-collected while its device is in use, the process dies ("futex facility
 * returned an unexpected error code", SIGSEGV, or a hang). Synchronous busy loops on the thread
 * that owns the device plus `global.gc()` made it near-certain. The runtime must keep `create()`'s
 * result reachable itself: this file holds no reference to it (nor to the adapter or device).
 *
 * Runs in the vitest project `gc` (node --expose-gc). A crash kills this file's fork, so the file
 * fails instead of passing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime } from '../../kernels/dawn.js';
import { runtime } from '../../kernels/runtime.js';
import { Tensor, add, exp, mul, sum, tidy } from '../../autograd/index.js';
import { backward } from '../../autograd/backward.js';

const ROUNDS = 240;
const BUSY_MS = 4;

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('global.gc is missing: this file must run with node --expose-gc (vitest project "gc")');
  gc();
}

/** Blocks the thread that owns the device, as long synchronous JS does. */
function busy(ms: number): number {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x = (x * 31 + 7) % 1_000_003;
  return x;
}

/** A weak handle on the `create()` result, made without keeping a strong local reference. */
function watchGpu(): WeakRef<object> {
  return new WeakRef(required(runtime().gpu, 'gpu'));
}

/** Dawn's runtime always has its `create()` result and adapter; a null here is a failure. */
function required<T extends object>(value: T | null, what: string): T {
  if (value === null) throw new Error(`the Dawn runtime has no ${what}`);
  return value;
}

beforeAll(async () => {
  // The result is deliberately dropped: only the runtime may keep the instance alive.
  await initRuntime();
});

describe('Dawn instance lifetime under GC pressure', () => {
  it('keeps create() result, adapter and device reachable through 240 busy-loop + gc rounds of real kernels', async () => {
    const gpuRef = watchGpu();
    const adapterRef = new WeakRef(required(runtime().adapter, 'adapter'));
    const deviceRef = new WeakRef(runtime().device);
    const submitsBefore = runtime().counters().submits;
    let sink = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const n = 64 + (round % 7) * 37;
      const a = new Float32Array(n);
      const b = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        a[i] = ((i * 13 + round) % 17) / 17 - 0.5;
        b[i] = ((i * 7 + 3 * round) % 11) / 11;
      }
      const expected = new Float64Array(n);
      for (let i = 0; i < n; i++) expected[i] = Math.exp(a[i]!) * b[i]! + a[i]!;

      const ta = Tensor.fromArray(a);
      const tb = Tensor.fromArray(b);
      const y = tidy(() => add(mul(exp(ta), tb), ta));
      // Submit, then block the device's thread while the GPU works, then collect garbage.
      runtime().flush();
      sink += busy(BUSY_MS);
      collect();
      const got = await y.toArray();
      for (let i = 0; i < n; i++) {
        if (Math.abs(got[i]! - expected[i]!) > 1e-5 * (1 + Math.abs(expected[i]!))) {
          expect.fail(`round ${round}, element ${i}: got ${got[i]}, expected ${expected[i]}`);
        }
      }

      // A reduction whose work is still queued while the thread is blocked and collected.
      const s = sum(ta);
      runtime().flush();
      sink += busy(1);
      collect();
      let want = 0;
      for (let i = 0; i < n; i++) want += a[i]!;
      expect(Math.abs((await s.item()) - want), `round ${round} sum`).toBeLessThan(1e-4);

      for (const t of [ta, tb, y, s]) t.dispose();
    }

    collect();
    expect(gpuRef.deref(), 'create() result was collected').toBeDefined();
    expect(adapterRef.deref(), 'adapter was collected').toBeDefined();
    expect(deviceRef.deref(), 'device was collected').toBeDefined();
    // Every round submitted work separately (flush and reads), so the busy loops ran between submits.
    expect(runtime().counters().submits - submitsBefore).toBeGreaterThanOrEqual(2 * ROUNDS);
    expect(Number.isFinite(sink)).toBe(true);
  });

  it('differentiates through the same GPU after the GC rounds', async () => {
    const x = Tensor.fromArray([0.5, -1, 2]).setRequiresGrad();
    const loss = sum(mul(x, x));
    busy(BUSY_MS);
    collect();
    backward(loss);
    collect();
    expect(Array.from(await x.grad!.toArray())).toEqual([1, -2, 4]);
    x.dispose();
    loss.dispose();
  });
});
