/**
 * Node only: the runtime started through Dawn's Node binding (npm `webgpu`), configured by
 * LRP_ADAPTER, LRP_BACKEND, LRP_POOL_IDLE_MB and LRP_DAWN_POLL. Importing this module installs Dawn as the
 * starter `initRuntime()` uses (the Node entry, node.ts, and the file-system loaders import it),
 * so `init()` in Node behaves as it always has.
 *
 * Crash safeguard: Dawn frees its native instance when the object `create()` returned is
 * garbage-collected, even while its device is in use (docs/runtime.md, "Lifetime"). That object
 * is kept as the runtime's `gpu` property, and the runtime lives in a module-level variable.
 */
import { create, globals } from 'webgpu';
import { envName, envNumber } from './env.js';
import { InputError } from './errors.js';
import { throttleDawnPolling, type DawnPolling } from './dawnPolling.js';
import { initRuntime as startRuntime, NoAdapterError, openRuntime, setRuntimeStarter, type GpuRuntime, type RuntimeOptions } from './runtime.js';

/** Runtime options in Node: the portable ones plus Dawn's adapter, backend and polling. */
export interface NodeRuntimeOptions extends RuntimeOptions {
  /**
   * How Dawn's binding polls for finished GPU work (`LRP_DAWN_POLL`): `throttled` (default) backs
   * off to one poll per millisecond after half a millisecond of waiting, so the polling does not
   * take a core from a CPU adapter's threads; `immediate` keeps Dawn's own spinning
   * (kernels/dawnPolling.ts).
   */
  polling?: DawnPolling;
  /** Dawn adapter name to require (see `LRP_ADAPTER`); default: whatever Dawn picks. */
  adapter?: string;
  /** Dawn backend (`vulkan`, `metal`, `d3d12`, ...); default: Dawn's choice (`LRP_BACKEND`). */
  backend?: string;
}

/** The fix to suggest when Dawn gives no adapter. */
export const DAWN_NO_ADAPTER_HINT =
  `Dawn needs a Vulkan driver: on a machine without a GPU ` +
  `install Mesa >= 25's lavapipe (on Debian bookworm: 'apt-get install -t bookworm-backports ` +
  `mesa-vulkan-drivers'; a checkout's scripts/setup.sh does it; see docs/runtime.md in the ` +
  `package), or set LRP_ADAPTER to the name of an adapter Dawn lists.`;

/** The error for "Dawn found no adapter", with Dawn's fix in the message. */
export function dawnNoAdapterError(detail: string): NoAdapterError {
  return new NoAdapterError(detail, DAWN_NO_ADAPTER_HINT);
}

function optionsFromEnv(): NodeRuntimeOptions {
  const options: NodeRuntimeOptions = {};
  const adapter = envName('LRP_ADAPTER');
  const backend = envName('LRP_BACKEND');
  const idleMb = envNumber('LRP_POOL_IDLE_MB');
  const polling = envName('LRP_DAWN_POLL');
  if (polling !== undefined && polling !== 'throttled' && polling !== 'immediate') {
    throw new InputError(`LRP_DAWN_POLL="${polling}" must be throttled or immediate`);
  }
  if (polling !== undefined) options.polling = polling;
  if (adapter !== undefined) options.adapter = adapter;
  if (backend !== undefined) options.backend = backend;
  if (idleMb !== undefined) options.maxIdleBytes = Math.round(idleMb * 2 ** 20);
  return options;
}

async function startDawn(options: NodeRuntimeOptions): Promise<GpuRuntime> {
  Object.assign(globalThis, globals);
  if ((options.polling ?? 'throttled') === 'throttled') throttleDawnPolling();
  const flags: string[] = [];
  if (options.backend) flags.push(`backend=${options.backend}`);
  if (options.adapter) flags.push(`adapter=${options.adapter}`);
  // Held by the runtime (its `gpu` property) for the life of the process: see the file comment.
  const gpu = create(flags);
  const asked = flags.length > 0 ? ` with ${flags.join(', ')}` : '';
  return openRuntime(gpu, options, { asked, hint: DAWN_NO_ADAPTER_HINT });
}

setRuntimeStarter((options: NodeRuntimeOptions) => startDawn({ ...optionsFromEnv(), ...options }));

/**
 * Starts the runtime on Dawn (once per process) and returns it. LRP_ADAPTER, LRP_BACKEND and
 * LRP_POOL_IDLE_MB are read strictly; `options` override them. Options apply to the first call
 * only; after `useDevice()` this returns that runtime.
 */
export function initRuntime(options: NodeRuntimeOptions = {}): Promise<GpuRuntime> {
  return startRuntime(options);
}
