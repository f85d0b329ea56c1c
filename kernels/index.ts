/** The GPU runtime and kernel launchers (the engine's lowest layer). */
export { initRuntime, runtime, hasRuntime, GpuRuntime, NoAdapterError, type RuntimeOptions, type AdapterDescription, type Launch } from './runtime.js';
export { BufferPool, sizeClass, type PoolStats } from './bufferPool.js';
export { PipelineCache } from './pipelineCache.js';
export * from './shape.js';
export type { DType, GpuView, KernelOutput } from './view.js';
export { matmul, planMatmul, pickMatmulVariant, MATMUL_VARIANTS, type MatmulVariant, type MatmulOptions, type MatmulPlan, type MatmulLayout } from './matmul.js';
