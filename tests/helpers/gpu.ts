/** Shared test set-up: one runtime per test file; no adapter is a failure, never a skip. */
import { initRuntime } from '../../kernels/dawn.js';
import type { GpuRuntime } from '../../kernels/runtime.js';

export async function gpu(): Promise<GpuRuntime> {
  return initRuntime();
}
