/// <reference types="@webgpu/types" preserve="true" />
/**
 * The GPU runtime and kernel launchers (the engine's lowest layer).
 *
 * @module transformer-lrp/kernels
 */
export {
  initRuntime,
  useDevice,
  openRuntime,
  setRuntimeStarter,
  runtime,
  hasRuntime,
  GpuRuntime,
  NoAdapterError,
  type RuntimeStarter,
  type AdapterRequest,
  type RuntimeOptions,
  type AdapterDescription,
  type Launch,
  type TimedWork,
  type Binding,
  type TextureBinding,
} from './runtime.js';
export { InputError, ComputationError } from './errors.js';
export { BufferPool, WORKING_SET_CAP, WORKING_SET_SLACK, sizeClass, type IdleCap, type PoolStats } from './bufferPool.js';
export { measure, startMeter, type RuntimeStats, type RuntimeMeter, type MeterOptions, type KernelCount } from './stats.js';
export { PipelineCache, type CachedPipeline } from './pipelineCache.js';
export type { TimedTag } from './dispatchTimer.js';
export { TexturePool, type ScratchTexture, type TexturePoolStats } from './texturePool.js';
export { packIntoTexture } from './packTexture.js';
export * from './shape.js';
export type { DType, HalfDType, GpuView, KernelOutput } from './view.js';
export {
  matmul,
  planMatmul,
  pickMatmulVariant,
  packedOperand,
  MATMUL_VARIANTS,
  PACKED_MIN_ROWS,
  PACKED_MIN_PACKED_ROWS,
  PACKED_SUBGROUP_SIZE,
  type MatmulVariant,
  type MatmulOptions,
  type MatmulPlan,
  type MatmulLayout,
  type MatmulPackedLayout,
} from './matmul.js';
