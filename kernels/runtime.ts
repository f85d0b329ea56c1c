/**
 * The GPU runtime: one device for the process, a pipeline cache, a buffer pool, batched command
 * encoding (many dispatches per submit) and readback.
 *
 * Portable: it uses standard WebGPU only. The device comes from the caller (`useDevice`), from a
 * starter a platform entry installs (the Node entry, kernels/dawn.ts, starts Dawn), or else from
 * `navigator.gpu` (browsers, Deno).
 *
 * Lifetime matters here: Dawn's node binding frees the native instance when the object returned
 * by `create()` is garbage-collected, even while its device is in use, which crashes the process
 * (docs/runtime.md, "Lifetime"). The runtime object holds `gpu`, `adapter` and `device` as properties, and the
 * runtime itself lives in a module-level variable for the life of the process.
 */
import { BufferPool, WORKING_SET_CAP, type PoolStats } from './bufferPool.js';
import { PipelineCache } from './pipelineCache.js';
import { TexturePool, type ScratchTexture } from './texturePool.js';
import { UploadStaging } from './uploadStaging.js';
import { DispatchTimer, type TimedTag } from './dispatchTimer.js';
import { BufferUsage, MapMode } from './usage.js';

/** Bytes reserved for one dispatch's parameters; storage offsets must be 256-byte aligned. */
const PARAM_SLOT_BYTES = 256;
const PARAM_RING_BYTES = 1 << 20;
/**
 * Upload staging: mapped `MAP_WRITE` buffers reused from submit to submit (kernels/uploadStaging.ts).
 * No pooled buffer ever receives `writeBuffer`, whose memory lavapipe keeps after `destroy()`
 * (docs/runtime.md).
 */
const UPLOAD_STAGING_BYTES = 4 << 20;
/** Staging buffers kept; a streaming upload (`uploadRoom`) never has more in flight. */
const UPLOAD_STAGING_KEPT = 4;
/** Dispatches recorded before a submit is forced, to bound latency and encoder size. */
const MAX_DISPATCHES_PER_SUBMIT = 1024;
const MAX_WORKGROUPS_PER_DIM = 65535;
/** Bytes of evicted buffers allowed to wait for a submit before one is forced. */
const MAX_PENDING_DESTROY_BYTES = 64 * 2 ** 20;
/** Idle bytes of scratch textures (matmul's packed operands) kept for reuse. */
const TEXTURE_IDLE_BYTES = 256 * 2 ** 20;

/** How the runtime starts: options every platform understands (the Node entry adds Dawn's). */
export interface RuntimeOptions {
  /** Passed to `requestAdapter()` when the runtime asks for its own adapter; default 'high-performance'. */
  powerPreference?: GPUPowerPreference;
  /**
   * Idle bytes kept in the buffer pool (Node: `LRP_POOL_IDLE_MB`). Default: room for the working
   * set, live and idle together up to 1.25 times the largest live set the pool has served, and at
   * least 512 MiB idle (`WORKING_SET_CAP`).
   */
  maxIdleBytes?: number;
}

/** The adapter the runtime runs on, as `adapter.info` reports it, plus what the kernels need to know. */
export interface AdapterDescription {
  /** Vendor name (may be empty). */
  vendor: string;
  /** Architecture name (may be empty). */
  architecture: string;
  /** Device name (may be empty). */
  device: string;
  /** The driver's description (lavapipe's contains "llvmpipe" and its LLVM version). */
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
  /** The view bound at this slot. */
  textureView: GPUTextureView;
}

/** One binding of a dispatch: a whole buffer (kernels index with element offsets from params), or a texture. */
export type Binding = GPUBuffer | TextureBinding;

/** Something the runtime may destroy once no recorded command can still use it. */
type Destroyable = (GPUBuffer | GPUTexture) & { destroy(): void };

/** One compute dispatch as a kernel launcher describes it to `GpuRuntime.dispatch`. */
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

/**
 * What `timeDispatches` tags: a dispatch (its launch) or a copy between buffers and textures,
 * whose key is `copy/bufferToBuffer` or `copy/bufferToTexture`.
 */
export type TimedWork = Pick<Launch, 'key'>;

/** What to do when no WebGPU is found outside Node (the Node entry gives Dawn's own advice). */
const PORTABLE_NO_ADAPTER_HINT =
  'This JavaScript runtime gives no WebGPU adapter: use a browser or runtime with WebGPU (navigator.gpu), ' +
  "hand the engine a device with useDevice(device), or in Node import 'transformer-lrp' (its Node entry " +
  'starts Dawn); see docs/embedding.md in the package.';

/** No WebGPU adapter could be had; the message says why (`detail`) and how to fix it (`hint`). */
export class NoAdapterError extends Error {
  constructor(detail: string, hint: string = PORTABLE_NO_ADAPTER_HINT) {
    super(`No WebGPU adapter was found (${detail}). ${hint}`);
    this.name = 'NoAdapterError';
  }
}

/**
 * The process's GPU: one adapter and device, the pools and caches, and batched command recording.
 * Obtain it with `initRuntime()` / `runtime()`, never with `new`.
 */
export class GpuRuntime {
  /** Storage buffers for every tensor. */
  readonly pool: BufferPool;
  /** Scratch textures for packed matmul operands. */
  readonly textures: TexturePool;
  /** Compiled kernels by key. */
  readonly pipelines: PipelineCache;
  /** The device's limits (the adapter's maxima for the limits the kernels use). */
  readonly limits: GPUSupportedLimits;
  /** What the adapter is; kernels pick variants by it. */
  readonly adapterInfo: AdapterDescription;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatchesInBatch = 0;
  private readonly paramRing: GPUBuffer;
  private readonly paramMirror = new Uint32Array(PARAM_RING_BYTES / 4);
  private paramCursor = 0;
  private readonly staging: UploadStaging;
  /** While `timeDispatches` runs: the timer, and how a dispatch or copy is tagged. */
  private timing: { timer: DispatchTimer; tag: (work: TimedWork) => string } | null = null;
  private pendingDestroy: Destroyable[] = [];
  private pendingDestroyBytes = 0;
  private readonly errors: string[] = [];
  private submitted = 0;
  private dispatched = 0;
  private uploaded = 0;
  /** Called on every recorded dispatch (kernels/stats.ts: per-kernel counts). */
  private readonly dispatchListeners = new Set<(launch: Launch) => void>();

  constructor(
    /**
     * The GPU object the device came from, or null when the caller passed a device
     * (`useDevice`). Kept as a property so it stays reachable as long as the device
     * (docs/runtime.md, "Lifetime").
     */
    readonly gpu: GPU | null,
    /** The adapter, or null when the caller passed only a device. */
    readonly adapter: GPUAdapter | null,
    /** The device every buffer, pipeline and command belongs to. */
    readonly device: GPUDevice,
    options: RuntimeOptions,
  ) {
    this.limits = device.limits;
    const info = adapterInfoOf(adapter, device);
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
    this.pool = new BufferPool(device, options.maxIdleBytes !== undefined ? { fixedBytes: options.maxIdleBytes } : WORKING_SET_CAP, (b) => this.destroyWhenUnused(b, b.size));
    this.textures = new TexturePool(device, TEXTURE_IDLE_BYTES, (t, bytes) => this.destroyWhenUnused(t, bytes));
    this.pipelines = new PipelineCache(device);
    this.paramRing = device.createBuffer({
      size: PARAM_RING_BYTES,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
      label: 'param-ring',
    });
    this.staging = new UploadStaging(device, UPLOAD_STAGING_BYTES, UPLOAD_STAGING_KEPT);
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
    // Timed copies use queries too: a submit may run out of them before it has its dispatches.
    if (this.paramCursor + slotBytes > PARAM_RING_BYTES || this.dispatchesInBatch >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
    else this.roomToTime();
    const offset = this.paramCursor;
    this.paramMirror.set(launch.params, offset / 4);
    this.paramCursor += slotBytes;

    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.paramRing, offset, size: paramBytes } }];
    launch.bindings.forEach((b, i) => entries.push({ binding: i + 1, resource: 'textureView' in b ? b.textureView : { buffer: b } }));
    const bindGroup = this.device.createBindGroup({ layout, entries });

    const pass = this.timing ? this.timedPass(this.timing.timer.passFor(this.timing.tag(launch))) : this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const x = Math.min(launch.workgroups, MAX_WORKGROUPS_PER_DIM);
    const y = Math.ceil(launch.workgroups / x);
    if (y > MAX_WORKGROUPS_PER_DIM) throw new Error(`${launch.key}: ${launch.workgroups} workgroups exceed the dispatch limit`);
    pass.dispatchWorkgroups(x, y);
    if (this.timing) this.endPass();
    this.dispatchesInBatch++;
    this.dispatched++;
    for (const listener of this.dispatchListeners) listener(launch);
  }

  /** Records a buffer-to-buffer copy in order with the dispatches around it. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    this.roomToTime();
    this.recordCopy(src, srcOffset, dst, dstOffset, bytes);
  }

  private recordCopy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.timedCopy('copy/bufferToBuffer', () => this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes));
  }

  /**
   * While timing, submits when this submit's queries are used up. Never between taking a staging
   * piece and recording its copy: a submit seals the pieces taken so far.
   */
  private roomToTime(): void {
    if (this.timing?.timer.full) this.flush();
  }

  /**
   * Records a copy of rows of `bytesPerRow` bytes (a multiple of 256) from `src` into the whole of
   * a scratch texture (`textures.acquire`), in order with the dispatches around it: texel row y of
   * layer z from byte (z · height + y) · bytesPerRow.
   */
  copyToTexture(src: GPUBuffer, bytesPerRow: number, target: ScratchTexture): void {
    if (bytesPerRow % 256 !== 0 || bytesPerRow !== target.width * 16) throw new Error(`copyToTexture: ${bytesPerRow} bytes per row for a texture ${target.width} texels wide`);
    this.roomToTime();
    this.timedCopy('copy/bufferToTexture', () =>
      this.commandEncoder().copyBufferToTexture(
        { buffer: src, bytesPerRow, rowsPerImage: target.height },
        { texture: target.texture },
        [target.width, target.height, target.layers],
      ),
    );
  }

  /** Records a copy outside any pass; while `timeDispatches` runs, between two timed empty passes. */
  private timedCopy(key: string, record: () => void): void {
    this.endPass();
    const span = this.timing?.timer.spanFor(this.timing.tag({ key }));
    if (span) this.timedPass(span[0]);
    this.endPass();
    record();
    if (span) this.timedPass(span[1]);
    this.endPass();
  }

  /**
   * Records the upload of `data` into `dst` from byte `dstOffset` (default 0), in order with the
   * dispatches around it, through a mapped staging buffer (a submit is forced whenever it is
   * full). `data.byteLength` and `dstOffset` must be multiples of 4; `data` may be reused as soon
   * as this returns, so a large tensor can be uploaded piece by piece from one reused host buffer.
   * Never waits; a caller streaming many pieces awaits `uploadRoom()` between them.
   */
  upload(dst: GPUBuffer, data: Uint8Array, dstOffset = 0): void {
    if (data.byteLength % 4 !== 0 || dstOffset % 4 !== 0) throw new Error(`upload: ${data.byteLength} bytes at offset ${dstOffset}: both must be multiples of 4`);
    if (dstOffset + data.byteLength > dst.size) throw new Error(`upload: ${data.byteLength} bytes at offset ${dstOffset} do not fit a buffer of ${dst.size}`);
    for (let done = 0; done < data.byteLength; ) {
      this.roomToTime();
      const piece = this.staging.take(data.byteLength - done);
      if (!piece) {
        this.flush();
        continue;
      }
      piece.bytes.set(data.subarray(done, done + piece.bytes.byteLength));
      this.recordCopy(piece.buffer, piece.offset, dst, dstOffset + done, piece.bytes.byteLength);
      done += piece.bytes.byteLength;
    }
    this.uploaded += data.byteLength;
  }

  /**
   * Resolves once `bytes` can be uploaded without a new staging buffer (at once while few uploads
   * are in flight), so a streamed upload reuses a few 4 MiB staging buffers instead of making
   * one per piece.
   */
  uploadRoom(bytes: number): Promise<void> {
    return this.staging.room(bytes);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.endPass();
    if (this.encoder) {
      if (this.paramCursor > 0) this.device.queue.writeBuffer(this.paramRing, 0, this.paramMirror, 0, this.paramCursor / 4);
      const staged = this.staging.seal();
      const readTimes = this.timing?.timer.resolve(this.encoder);
      this.device.queue.submit([this.encoder.finish()]);
      this.staging.submitted(staged);
      readTimes?.();
      this.submitted++;
      this.encoder = null;
    }
    this.paramCursor = 0;
    this.dispatchesInBatch = 0;
    for (const resource of this.pendingDestroy) resource.destroy();
    this.pendingDestroy = [];
    this.pendingDestroyBytes = 0;
  }

  /** Copies `bytes` from `buffer` at `offset` back to the CPU; flushes pending work first. */
  async read(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    return (await this.readMany([{ buffer, offset, bytes }]))[0]!;
  }

  /**
   * Copies several spans back to the CPU in one submit (`read` for each would submit and wait
   * once per span): an explanation's per-position relevance of every positional tap, for one.
   */
  async readMany(spans: readonly { buffer: GPUBuffer; offset: number; bytes: number }[]): Promise<ArrayBuffer[]> {
    const staged = spans.map(({ buffer, offset, bytes }) => {
      const alignedStart = offset - (offset % 4);
      const alignedBytes = Math.max(4, Math.ceil((offset + bytes - alignedStart) / 4) * 4);
      const staging = this.device.createBuffer({ size: alignedBytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
      this.copy(buffer, alignedStart, staging, 0, alignedBytes);
      return { staging, lead: offset - alignedStart, bytes };
    });
    this.flush();
    try {
      return await Promise.all(
        staged.map(async ({ staging, lead, bytes }) => {
          await staging.mapAsync(MapMode.READ);
          return staging.getMappedRange().slice(lead, lead + bytes);
        }),
      );
    } finally {
      for (const { staging } of staged) staging.destroy();
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

  /** The buffer pool's counters now (live and idle bytes); tests use it to catch leaks. */
  memory(): PoolStats {
    return this.pool.snapshot();
  }

  /**
   * Work counted since start-up: submits, recorded dispatches, compiled pipelines and uploaded
   * bytes (for benchmarks), and the upload staging buffers that exist now.
   */
  counters(): { submits: number; dispatches: number; pipelines: number; uploadedBytes: number; stagingBuffers: number } {
    return { submits: this.submitted, dispatches: this.dispatched, pipelines: this.pipelines.size, uploadedBytes: this.uploaded, stagingBuffers: this.staging.size };
  }

  /** Whether `timeDispatches` can run here (the device has `timestamp-query`). */
  get canTimeDispatches(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /**
   * Times every dispatch recorded from now on on the GPU, summed under `tag(launch)` (called
   * inside `dispatch`, so a stack trace there shows who recorded it). Each timed dispatch gets a
   * compute pass of its own (kernels/dispatchTimer.ts). `stop()` ends the timing, waits for the
   * last submit's timestamps and returns the totals by tag, most time first. Throws when the
   * device has no `timestamp-query` (`canTimeDispatches`) or a timing already runs.
   */
  timeDispatches(tag: (work: TimedWork) => string): { stop: () => Promise<TimedTag[]> } {
    if (!this.canTimeDispatches) throw new Error('timeDispatches: this device has no timestamp-query feature');
    if (this.timing) throw new Error('timeDispatches: a timing already runs');
    this.flush(); // dispatches recorded before are not timed
    const timer = new DispatchTimer(this.device);
    this.timing = { timer, tag };
    return {
      stop: async () => {
        this.flush();
        this.timing = null;
        try {
          return await timer.results();
        } finally {
          timer.destroy();
        }
      },
    };
  }

  /** Calls `listener` for every dispatch recorded from now on; returns the unsubscribe. */
  onDispatch(listener: (launch: Launch) => void): () => void {
    this.dispatchListeners.add(listener);
    return () => this.dispatchListeners.delete(listener);
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  /** A pass of its own for one timed dispatch. */
  private timedPass(descriptor: GPUComputePassDescriptor): GPUComputePassEncoder {
    this.endPass();
    return (this.pass = this.commandEncoder().beginComputePass(descriptor));
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

/**
 * The adapter's description: from the adapter when there is one, else from `device.adapterInfo`
 * (newer WebGPU), else empty strings (a device handed in by an older implementation).
 */
function adapterInfoOf(adapter: GPUAdapter | null, device: GPUDevice): GPUAdapterInfo {
  if (adapter) return adapter.info;
  const fromDevice = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (fromDevice) return fromDevice;
  return { vendor: '', architecture: '', device: '', description: '' } as GPUAdapterInfo;
}

/** The process-wide runtime. Module-level so it (and `create()`'s result) is never collected. */
let current: GpuRuntime | null = null;
let starting: Promise<GpuRuntime> | null = null;

/**
 * Starts the runtime when `initRuntime()` is called without a device: a platform entry installs
 * one (the Node entry starts Dawn); without one, `navigator.gpu` is used.
 */
export type RuntimeStarter = (options: RuntimeOptions) => Promise<GpuRuntime>;

let defaultStarter: RuntimeStarter | null = null;

/**
 * Installs the platform's way of getting a device for `initRuntime()` (the Node entry installs
 * Dawn's). Runtimes started already are not affected.
 */
export function setRuntimeStarter(starter: RuntimeStarter): void {
  defaultStarter = starter;
}

/** How an adapter was asked for, and what to advise when none comes back (for error messages). */
export interface AdapterRequest {
  /** Appended to "requestAdapter()" in the message: `' with backend=vulkan'`, or ''. */
  asked?: string;
  /** The fix to suggest when no adapter comes back. */
  hint?: string;
}

/**
 * Asks `gpu` for an adapter and a device with the limits and features the kernels use, and
 * wraps them in a runtime (not yet installed: `initRuntime`/`useDevice` do that).
 */
export async function openRuntime(gpu: GPU, options: RuntimeOptions, request: AdapterRequest = {}): Promise<GpuRuntime> {
  const asked = request.asked ?? '';
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch (error) {
    // Dawn rejects (rather than returning null) for an unknown adapter or backend name, and
    // lists the ones it has: keep that list in the message.
    throw new NoAdapterError(`requestAdapter()${asked} failed: ${(error as Error).message}`, request.hint);
  }
  if (!adapter) throw new NoAdapterError(`requestAdapter()${asked} returned null`, request.hint);
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
  // Timestamps only for `timeDispatches` (profiling); nothing is timed unless asked.
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'transformer-lrp' });
  return new GpuRuntime(gpu, adapter, device, options);
}

/** The portable default: the adapter `navigator.gpu` gives (browsers, Deno, Electron's renderer). */
async function startFromNavigator(options: RuntimeOptions): Promise<GpuRuntime> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new NoAdapterError('navigator.gpu is undefined');
  return openRuntime(gpu, options, { asked: ' on navigator.gpu' });
}

/**
 * Starts the runtime (once per process) and returns it: with the starter the platform entry
 * installed (Node: Dawn, reading LRP_* variables), else with `navigator.gpu`. Options apply to
 * the first call only; after `useDevice()` this returns that runtime.
 */
export async function initRuntime(options: RuntimeOptions = {}): Promise<GpuRuntime> {
  if (current) return current;
  starting ??= (defaultStarter ?? startFromNavigator)(options);
  try {
    current = await starting;
  } catch (error) {
    starting = null;
    throw error;
  }
  return current;
}

/**
 * Runs the engine on a device the caller made (a browser's, Deno's, Electron's, or a Dawn device
 * of your own). Call it before creating any tensor. The device should have the adapter's limits
 * (`requiredLimits`) for models whose weights pass WebGPU's default 128 MiB binding size, and the
 * `subgroups` feature where the adapter has it (faster matmul on CPU adapters); see
 * docs/embedding.md. Keep `adapter` (or whatever object owns the device) reachable yourself if
 * your implementation frees devices with it.
 *
 * Returns the runtime; calling it again with the same device returns the same runtime. Throws
 * when a runtime on another device is running: tensors cannot move between devices.
 */
export function useDevice(device: GPUDevice, adapter?: GPUAdapter, options: RuntimeOptions = {}): GpuRuntime {
  if (current) {
    if (current.device === device) return current;
    throw new Error('useDevice: the runtime already runs on another device (tensors cannot move between devices); call it before anything starts the runtime');
  }
  if (starting) throw new Error('useDevice: initRuntime() is already starting a device; call useDevice() before anything starts the runtime');
  current = new GpuRuntime(null, adapter ?? null, device, options);
  return current;
}

/** The running runtime; throws if `initRuntime()` has not completed. */
export function runtime(): GpuRuntime {
  if (!current) throw new Error('The GPU runtime is not started: await init() (or initRuntime()), or call useDevice(device), before using tensors.');
  return current;
}

/** Whether a runtime is running (started by `initRuntime()` or installed by `useDevice()`). */
export function hasRuntime(): boolean {
  return current !== null;
}
