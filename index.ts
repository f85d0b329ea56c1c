/// <reference types="@webgpu/types" preserve="true" />
/**
 * transformer-lrp's portable core: explain transformer predictions token by token and position by
 * position with LRP, on a WebGPU tensor engine. Standard WebGPU only: `useDevice(device)` runs it
 * on a device you made, `init()` asks `navigator.gpu` (or, in Node, Dawn: node.ts). In Node,
 * `import 'transformer-lrp'` resolves to node.ts, which adds Dawn and the file-system loaders
 * (docs/embedding.md).
 *
 * The exports come in three groups, as below and in the API reference's categories: the engine
 * (`init`, `useDevice`, `runtime` and the errors first, then autograd: categories Engine, Tensor
 * ops, GPU runtime), the models (nn: Models, Loading, Training) and the explanations (lrp:
 * Explanation, Rules and methods, Rendering, Evaluation). Each layer is also an entry point of its
 * own: `transformer-lrp/kernels`, `/autograd`, `/nn`, `/lrp`.
 *
 * @module transformer-lrp
 */
export { initRuntime as init, useDevice, runtime } from './kernels/runtime.js';
export { InputError, ComputationError } from './kernels/errors.js';

// Engine: Tensor, memory scopes (tidy, keep), ops and their gradients, backward, custom ops and
// backward rules (withBackwardRules).
export * from './autograd/index.js';

// Models: modules, the model families and their positional encodings; loading checkpoints,
// tokenizers and images (loadModel); training the demo models.
export * from './nn/index.js';

// Explanation: explain(), methods as data and their rules, the conservation ledger, renderers,
// evaluation against ground truth.
export * from './lrp/index.js';
