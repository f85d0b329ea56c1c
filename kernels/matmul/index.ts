/**
 * Batched matrix product C[..., M, N] = alpha · A[..., M, K] · B[..., K, N] (+ bias[N]), f32, with
 * NumPy broadcasting of the batch dimensions. Operands are any strided views: a transposed view
 * (swapped strides) is read in place, so x·Wᵀ with W stored [out, in] needs no copy.
 *
 * The parts, one job each:
 * - variants.ts: the template's tile parameters (`MatmulVariant`), the named variants and which
 *   one an adapter and a shape get;
 * - plan.ts: shape checks, batch folding, which operand is packed, how each operand is read;
 * - spec.ts: the template's spec (the pipeline key is derived from it) and parameter block;
 * - readers/: how the register path reads each operand (buffer, subgroup broadcast, texture);
 * - registerPath.ts, sharedPath.ts, epilogue.ts, template.ts: the WGSL;
 * - dispatch.ts: `matmul` and `matmulThen` (a second result stored by the same epilogue), the launcher;
 * - prepacked.ts: `matmulPrepackedA`, a product whose A the caller's kernel packs.
 * Which tile suits the adapter differs a lot. On lavapipe (CPU) invocations are the lanes of
 * 8-wide SIMD vectors, every buffer load in a loop becomes a scalar loop over the lanes, and
 * barriers switch coroutines, so the register path with one subgroup per workgroup, broadcasting
 * A and packing B, wins; a real GPU wants the shared-memory path (docs/benchmarks.md).
 */
export { matmul, matmulThen, sharingPacksOf } from './dispatch.js';
export { matmulPrepackedA, type PrepackedOperand } from './prepacked.js';
export { planMatmul, resultStrides, type MatmulLayout, type MatmulOptions, type MatmulPlan, type MatmulPackedLayout } from './plan.js';
export type { MatmulSpec, OperandDType } from './spec.js';
export { matmulWgsl } from './template.js';
export * from './variants.js';
