/// <reference types="@webgpu/types" preserve="true" />
/**
 * transformer-lrp in Node: the portable core (index.ts) plus what only Node has. `init()` starts
 * Dawn's Node binding (npm `webgpu`), reading LRP_ADAPTER, LRP_BACKEND and LRP_POOL_IDLE_MB, and
 * keeps Dawn's objects reachable for the life of the process (docs/runtime.md, "Lifetime").
 * `import ... from 'transformer-lrp'` resolves here in Node (the `node` export condition), and to
 * the core elsewhere; `transformer-lrp/node` names this entry explicitly (docs/embedding.md).
 */
export * from './index.js';
export { initRuntime as init, DAWN_NO_ADAPTER_HINT, type NodeRuntimeOptions } from './kernels/dawn.js';
export type { DawnPolling } from './kernels/dawnPolling.js';
export { loadModel, readConfig, readCheckpoint, loadTokenizer, hasTokenizer } from './nn/folder.js';
export { folderSource } from './nn/folderSource.js';
export { resolveModelDir, hubCacheRoots } from './nn/hub-cache.js';
export { loadImage, decodeImage, readNormalisation, MAX_IMAGE_PIXELS } from './nn/image.js';
export { train, type TrainOptions, type TrainResult, type TrainEvents } from './nn/train/trainer.js';
export { saveCheckpoint, readTrainingState, type TrainingState, type LogEntry, type EvalEntry } from './nn/train/checkpoint.js';
export { readHeldout } from './lrp/eval/heldout.js';
export { writeSafetensorsStream } from './nn/safetensorsStream.js';
