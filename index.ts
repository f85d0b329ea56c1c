/// <reference types="@webgpu/types" preserve="true" />
/**
 * transformer-lrp's portable core: explain transformer predictions token by token and position by
 * position with LRP, on a WebGPU tensor engine. Standard WebGPU only: `useDevice(device)` runs it
 * on a device you made, `init()` asks `navigator.gpu` (or, in Node, Dawn: node.ts). Everything
 * else is re-exported from the layers below. In Node, `import 'transformer-lrp'` resolves to
 * node.ts, which adds Dawn and the file-system loaders (docs/embedding.md).
 */
export { initRuntime as init, useDevice, runtime } from './kernels/runtime.js';
export { InputError, ComputationError } from './kernels/errors.js';
export * from './autograd/index.js';
export * from './nn/index.js';
export * from './lrp/index.js';
