/// <reference types="@webgpu/types" preserve="true" />
/**
 * transformer-lrp: explain transformer predictions token by token and position by position with
 * LRP, on a WebGPU tensor engine. `init()` starts the GPU runtime; everything else is re-exported
 * from the layers below.
 */
export { initRuntime as init, runtime } from './kernels/runtime.js';
export { InputError, ComputationError } from './kernels/errors.js';
export * from './autograd/index.js';
export * from './nn/index.js';
export * from './lrp/index.js';
