/**
 * The GPU runtime: one adapter and device for the process, a pipeline cache, a buffer pool,
 * batched command encoding (many dispatches per submit) and readback.
 *
 * Lifetime matters here: Dawn's node binding frees the native instance when the object returned
 * by `create()` is garbage-collected, even while its device is in use, which crashes the process
 * (docs/runtime.md, "Lifetime"). The runtime object holds `gpu`, `adapter` and `device` as properties, and the
 * runtime itself lives in a module-level variable for the life of the process.
 */
import { create, globals } from 'webgpu';
import { BufferPool, type PoolStats } from './bufferPool.js';
import { envName, envNumber } from './env.js';
import { PipelineCache } from './pipelineCache.js';
import { TexturePool } from './texturePool.js';
import { BufferUsage, MapMode } from './usage.js';

/** Bytes reserved for one dispatch's parameters; storage offsets must be 256-byte aligned. */
const PARAM_SLOT_BYTES = 256;
const PARAM_RING_BYTES = 1 << 20;
/**
 * Staging ring for uploads: data goes to a host mirror, one `writeBuffer` per submit copies it to
 * this never-destroyed buffer, and recorded copies move it into pooled buffers. No pooled buffer
 * ever receives `writeBuffer`, whose memory lavapipe keeps after `destroy()` (docs/runtime.md).
 */
const UPLOAD_RING_BYTES = 4 << 20;
/** Dispatches recorded before a submit is forced, to bound latency and encoder size. */
const MAX_DISPATCHES_PER_SUBMIT = 1024;
const MAX_WORKGROUPS_PER_DIM = 65535;
/** Bytes of evicted buffers allowed to wait for a submit before one is forced. */
const MAX_PENDING_DESTROY_BYTES = 64 * 2 ** 20;
/** Idle bytes of scratch textures (matmul's packed operands) kept for reuse. */
const TEXTURE_IDLE_BYTES = 256 * 2 ** 20;

export interface RuntimeOptions {
  /** Dawn adapter name to require (see `LRP_ADAPTER`); default: whatever Dawn picks. */
  adapter?: string;
  /** Dawn backend (`vulkan`, `metal`, `d3d12`, ...); default: Dawn's choice (`LRP_BACKEND`). */
  backend?: string;
  powerPreference?: GPUPowerPreference;
  /** Idle bytes kept in the buffer pool (`LRP_POOL_IDLE_MB`). */
  maxIdleBytes?: number;
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU implementations such as lavapipe. */
  isSoftware: boolean;
  /**
   * The subgroup size every compute invocation group has, when the device has the `subgroups`
   * feature and the size is fixed (lavapipe: the SIMD width, 8 lanes); null otherwise.
   */
  subgroupSize: number | null;
}

/** A texture bound as a storage texture (kernels that read a packed operand, such as matmul's B). */
export interface TextureBinding {
  textureView: GPUTextureView;
}

/** One binding of a dispatch: a whole buffer (kernels index with element offsets from params), or a texture. */
export type Binding = GPUBuffer | TextureBinding;

/** Something the runtime may destroy once no recorded command can still use it. */
type Destroyable = (GPUBuffer | GPUTexture) & { destroy(): void };

export interface Launch {
  /** Pipeline cache key: must encode every template parameter of `wgsl`. */
  key: string;
  /** Generates the WGSL; called once per key. Binding 0 is the parameter block. */
  wgsl: () => string;
  /** Storage buffers for bindings 1..n, in order. */
  bindings: Binding[];
  /** The parameter block: u32 words (f32 values bit-cast by the caller). */
  params: Uint32Array;
  /** Workgroups needed in total; the runtime folds them into x and y when over 65535. */
  workgroups: number;
}

export class NoAdapterError extends Error {
  constructor(detail: string) {
    super(
      `No WebGPU adapter was found (${detail}). Dawn needs a Vulkan driver: on a machine without a GPU ` +
        `install Mesa >= 25's lavapipe (on Debian bookworm: 'apt-get install -t bookworm-backports ` +
        `mesa-vulkan-drivers'; a checkout's scripts/setup.sh does it; see docs/runtime.md in the ` +
        `package), or set LRP_ADAPTER to the name of an adapter Dawn lists.`,
    );
    this.name = 'NoAdapterError';
  }
}

export class GpuRuntime {
  readonly pool: BufferPool;
  readonly textures: TexturePool;
  readonly pipelines: PipelineCache;
  readonly limits: GPUSupportedLimits;
  readonly adapterInfo: AdapterDescription;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatchesInBatch = 0;
  private readonly paramRing: GPUBuffer;
  private readonly paramMirror = new Uint32Array(PARAM_RING_BYTES / 4);
  private paramCursor = 0;
  private readonly uploadRing: GPUBuffer;
  private readonly uploadMirror = new Uint8Array(UPLOAD_RING_BYTES);
  private uploadCursor = 0;
  private pendingDestroy: Destroyable[] = [];
  private pendingDestroyBytes = 0;
  private readonly errors: string[] = [];
  private submitted = 0;
  private dispatched = 0;
  private uploaded = 0;
  /** Called on every recorded dispatch (kernels/stats.ts: per-kernel counts). */
  private readonly dispatchListeners = new Set<(launch: Launch) => void>();

  constructor(
    /** Kept as a property so it stays reachable as long as the device (docs/runtime.md, "Lifetime"). */
    readonly gpu: GPU,
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    options: RuntimeOptions,
  ) {
    this.limits = device.limits;
    const info = adapter.info;
    this.adapterInfo = {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isSoftware:
        /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.description} ${info.architecture} ${info.device}`) ||
        ((info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false),
      subgroupSize:
        device.features.has('subgroups') && info.subgroupMinSize !== undefined && info.subgroupMinSize === info.subgroupMaxSize
          ? info.subgroupMinSize
          : null,
    };
    this.pool = new BufferPool(device, options.maxIdleBytes ?? 512 * 2 ** 20, (b) => this.destroyWhenUnused(b, b.size));
    this.textures = new TexturePool(device, TEXTURE_IDLE_BYTES, (t, bytes) => this.destroyWhenUnused(t, bytes));
    this.pipelines = new PipelineCache(device);
    this.paramRing = device.createBuffer({
      size: PARAM_RING_BYTES,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
      label: 'param-ring',
    });
    this.uploadRing = device.createBuffer({ size: UPLOAD_RING_BYTES, usage: BufferUsage.COPY_SRC | BufferUsage.COPY_DST, label: 'upload-ring' });
    device.addEventListener('uncapturederror', (event) => {
      this.errors.push((event as GPUUncapturedErrorEvent).error.message);
    });
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.errors.push(`device lost: ${info.message}`);
    });
  }

  /** Largest byte size one binding may have; bigger tensors must be split by the caller. */
  get maxBindingBytes(): number {
    return Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
  }

  /**
   * Destroys a buffer as soon as no unsubmitted command can reference it: at once when nothing is
   * recorded (Dawn itself waits for submitted work), else after the next submit, which is forced
   * early once enough bytes wait, so memory is returned promptly.
   */
  private destroyWhenUnused(resource: Destroyable, bytes: number): void {
    if (!this.encoder) {
      resource.destroy();
      return;
    }
    this.pendingDestroy.push(resource);
    this.pendingDestroyBytes += bytes;
    if (this.pendingDestroyBytes > MAX_PENDING_DESTROY_BYTES) this.flush();
  }

  /** Records one compute dispatch; it runs at the next flush (or sooner when the batch is full). */
  dispatch(launch: Launch): void {
    if (launch.workgroups === 0) return;
    const { pipeline, layout } = this.pipelines.get(launch.key, launch.wgsl);
    const paramBytes = Math.max(16, Math.ceil((launch.params.length * 4) / 16) * 16);
    const slotBytes = Math.ceil(paramBytes / PARAM_SLOT_BYTES) * PARAM_SLOT_BYTES;
    if (slotBytes > PARAM_RING_BYTES) throw new Error(`${launch.key}: parameter block of ${paramBytes} bytes is too large`);
    if (this.paramCursor + slotBytes > PARAM_RING_BYTES || this.dispatchesInBatch >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
    const offset = this.paramCursor;
    this.paramMirror.set(launch.params, offset / 4);
    this.paramCursor += slotBytes;

    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.paramRing, offset, size: paramBytes } }];
    launch.bindings.forEach((b, i) => entries.push({ binding: i + 1, resource: 'textureView' in b ? b.textureView : { buffer: b } }));
    const bindGroup = this.device.createBindGroup({ layout, entries });

    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const x = Math.min(launch.workgroups, MAX_WORKGROUPS_PER_DIM);
    const y = Math.ceil(launch.workgroups / x);
    if (y > MAX_WORKGROUPS_PER_DIM) throw new Error(`${launch.key}: ${launch.workgroups} workgroups exceed the dispatch limit`);
    pass.dispatchWorkgroups(x, y);
    this.dispatchesInBatch++;
    this.dispatched++;
    for (const listener of this.dispatchListeners) listener(launch);
  }

  /** Records a buffer-to-buffer copy in order with the dispatches around it. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /**
   * Records the upload of `data` into `dst` from byte 0, in order with the dispatches around it,
   * through the upload ring (a submit is forced whenever the ring is full). `data.byteLength` must
   * be a multiple of 4; `data` may be reused as soon as this returns.
   */
  upload(dst: GPUBuffer, data: Uint8Array): void {
    if (data.byteLength % 4 !== 0) throw new Error(`upload: ${data.byteLength} bytes is not a multiple of 4`);
    if (data.byteLength > dst.size) throw new Error(`upload: ${data.byteLength} bytes do not fit a buffer of ${dst.size}`);
    for (let done = 0; done < data.byteLength; ) {
      if (this.uploadCursor === UPLOAD_RING_BYTES) this.flush();
      const n = Math.min(data.byteLength - done, UPLOAD_RING_BYTES - this.uploadCursor);
      this.uploadMirror.set(data.subarray(done, done + n), this.uploadCursor);
      this.copy(this.uploadRing, this.uploadCursor, dst, done, n);
      this.uploadCursor += n;
      done += n;
    }
    this.uploaded += data.byteLength;
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.endPass();
    if (this.encoder) {
      if (this.paramCursor > 0) this.device.queue.writeBuffer(this.paramRing, 0, this.paramMirror, 0, this.paramCursor / 4);
      if (this.uploadCursor > 0) this.device.queue.writeBuffer(this.uploadRing, 0, this.uploadMirror, 0, this.uploadCursor);
      this.device.queue.submit([this.encoder.finish()]);
      this.submitted++;
      this.encoder = null;
    }
    this.paramCursor = 0;
    this.uploadCursor = 0;
    this.dispatchesInBatch = 0;
    for (const resource of this.pendingDestroy) resource.destroy();
    this.pendingDestroy = [];
    this.pendingDestroyBytes = 0;
  }

  /** Copies `bytes` from `buffer` at `offset` back to the CPU; flushes pending work first. */
  async read(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const alignedStart = offset - (offset % 4);
    const alignedBytes = Math.max(4, Math.ceil((offset + bytes - alignedStart) / 4) * 4);
    const staging = this.device.createBuffer({ size: alignedBytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    this.copy(buffer, alignedStart, staging, 0, alignedBytes);
    this.flush();
    try {
      await staging.mapAsync(MapMode.READ);
      const lead = offset - alignedStart;
      return staging.getMappedRange().slice(lead, lead + bytes);
    } finally {
      staging.destroy();
      this.throwIfErrors();
    }
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfErrors();
  }

  /** Throws (once) if Dawn reported an error since the last check. */
  throwIfErrors(): void {
    if (this.errors.length > 0) {
      const message = this.errors.splice(0).join('\n');
      throw new Error(`WebGPU reported an error: ${message}`);
    }
  }

  memory(): PoolStats {
    return this.pool.snapshot();
  }

  counters(): { submits: number; dispatches: number; pipelines: number; uploadedBytes: number } {
    return { submits: this.submitted, dispatches: this.dispatched, pipelines: this.pipelines.size, uploadedBytes: this.uploaded };
  }

  /** Calls `listener` for every dispatch recorded from now on; returns the unsubscribe. */
  onDispatch(listener: (launch: Launch) => void): () => void {
    this.dispatchListeners.add(listener);
    return () => this.dispatchListeners.delete(listener);
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(): GPUComputePassEncoder {
    return (this.pass ??= this.commandEncoder().beginComputePass());
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }
}

/** The process-wide runtime. Module-level so it (and `create()`'s result) is never collected. */
let current: GpuRuntime | null = null;
let starting: Promise<GpuRuntime> | null = null;

function optionsFromEnv(): RuntimeOptions {
  const options: RuntimeOptions = {};
  const adapter = envName('LRP_ADAPTER');
  const backend = envName('LRP_BACKEND');
  const idleMb = envNumber('LRP_POOL_IDLE_MB');
  if (adapter !== undefined) options.adapter = adapter;
  if (backend !== undefined) options.backend = backend;
  if (idleMb !== undefined) options.maxIdleBytes = Math.round(idleMb * 2 ** 20);
  return options;
}

async function start(options: RuntimeOptions): Promise<GpuRuntime> {
  Object.assign(globalThis, globals);
  const flags: string[] = [];
  if (options.backend) flags.push(`backend=${options.backend}`);
  if (options.adapter) flags.push(`adapter=${options.adapter}`);
  const gpu = create(flags);
  const asked = flags.length > 0 ? ` with ${flags.join(', ')}` : '';
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch (error) {
    // Dawn rejects (rather than returning null) for an unknown adapter or backend name, and
    // lists the ones it has: keep that list in the message.
    throw new NoAdapterError(`requestAdapter()${asked} failed: ${(error as Error).message}`);
  }
  if (!adapter) throw new NoAdapterError(`requestAdapter()${asked} returned null`);
  const wanted: (keyof GPUSupportedLimits)[] = [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxStorageBuffersPerShaderStage',
    'maxTextureDimension2D',
    'maxTextureArrayLayers',
  ];
  const requiredLimits: Record<string, number> = {};
  for (const name of wanted) requiredLimits[name] = adapter.limits[name] as number;
  // Subgroup operations let a CPU adapter share one lane's load with its SIMD vector (matmul).
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('subgroups') ? ['subgroups'] : [];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'transformer-lrp' });
  return new GpuRuntime(gpu, adapter, device, options);
}

/** Starts the runtime (once per process) and returns it. Options apply to the first call only. */
export async function initRuntime(options: RuntimeOptions = {}): Promise<GpuRuntime> {
  if (current) return current;
  starting ??= start({ ...optionsFromEnv(), ...options });
  try {
    current = await starting;
  } catch (error) {
    starting = null;
    throw error;
  }
  return current;
}

/** The running runtime; throws if `initRuntime()` has not completed. */
export function runtime(): GpuRuntime {
  if (!current) throw new Error('The GPU runtime is not started: await init() (or initRuntime()) before using tensors.');
  return current;
}

export function hasRuntime(): boolean {
  return current !== null;
}
