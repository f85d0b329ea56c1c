/// <reference types="@webgpu/types" preserve="true" />
/**
 * The autodiff engine's public surface: Tensor, ops, graph control, custom ops and rules.
 *
 * @module transformer-lrp/autograd
 */
export { Tensor, type NestedArray } from './tensor.js';
export { tidy, keep, type Disposable } from './scope.js';
export type { Storage } from './storage.js';
export type { DType, HalfDType } from '../kernels/view.js';
export {
  noGrad,
  isGradEnabled,
  withBackwardRules,
  type BackwardContext,
  type BackwardFn,
  type ScaledBackwardFn,
  type BackwardRule,
  type Node,
  type RuleTable,
  type RuleResolver,
} from './graph.js';
export { defineOp, customOp, registeredOps, opRole, type OpDefinition, type OpFn, type RegisteredOpDefinition } from './op.js';
export { OP_ROLES, isOpRole, type OpAttrs, type OpName, type OpRole, type RoleAttrs } from './opTypes.js';
export { backward, releaseGraph, topologicalNodes, type BackwardOptions, type NodeVisit } from './backward.js';
export * from './ops/elementwise.js';
export * from './ops/reduce.js';
export * from './ops/sumToShape.js';
export * from './ops/view.js';
export * from './ops/creation.js';
export * from './ops/matmul.js';
export * from './ops/softmax.js';
export * from './ops/norm.js';
export * from './ops/gather.js';
export * from './ops/concat.js';
export * from './ops/rotary.js';
export * from './ops/masks.js';
export * from './ops/random.js';
export * from './ops/products.js';
