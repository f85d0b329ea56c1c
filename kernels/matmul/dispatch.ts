/**
 * The matmul launcher: plans the product, packs the texture operand of a packed variant, fills
 * the parameter block and records the dispatch under a key derived from the template's spec.
 */
import { packIntoTexture } from '../packTexture.js';
import { runtime, type Binding } from '../runtime.js';
import type { ScratchTexture } from '../texturePool.js';
import { contiguousStrides, numel } from '../shape.js';
import { allocate, f32Bits, type GpuView, type KernelOutput } from '../view.js';
import { templateLaunch } from '../wgsl/specKey.js';
import { planMatmul, type MatmulOptions, type MatmulPlan } from './plan.js';
import { P, type MatmulSpec } from './spec.js';
import { matmulWgsl } from './template.js';
import type { MatmulVariant } from './variants.js';

/**
 * alpha · a · b (+ bias) with batch broadcasting: a [..., M, K], b [..., K, N] → [..., M, N].
 * Both operands must have rank ≥ 2; the result is a new contiguous tensor.
 */
export function matmul(a: GpuView, b: GpuView, options: MatmulOptions = {}): KernelOutput {
  return launchMatmul(planMatmul(a, b, options), a, b, options);
}

/**
 * Runs a planned product. `packA`, when given, makes the texture of A for a plan that packs A
 * ('packed' layout, one layer) in place of `packIntoTexture` (kernels/matmul/prepacked.ts: a
 * caller that writes A straight into that layout); A's buffer is then never bound.
 */
export function launchMatmul(plan: MatmulPlan, a: GpuView, b: GpuView, options: MatmulOptions, packA?: () => ScratchTexture): KernelOutput {
  const { shape, variant: v, batch } = plan;
  const { bias, alpha = 1 } = options;
  const out = allocate('matmul', shape, 'f32');
  if (numel(shape) === 0) return { buffer: out, shape, dtype: 'f32' };
  // The kernel's operands: the plan's, or with A packed, Bᵀ (rows shared by broadcast) and Aᵀ
  // (packed) for Cᵀ = Bᵀ·Aᵀ, stored transposed.
  const transposedC = plan.layoutA === 'packed' || plan.layoutA === 'packedK';
  const [sC, sA, sB] = plan.batchStrides;
  const k = transposedC
    ? { first: b, second: a, M: plan.N, N: plan.M, sAm: plan.sBn, sAk: plan.sBk, sBk: plan.sAk, sBn: plan.sAm, la: plan.layoutB, lb: plan.layoutA, sFirst: sB, sSecond: sA }
    : { first: a, second: b, M: plan.M, N: plan.N, sAm: plan.sAm, sAk: plan.sAk, sBk: plan.sBk, sBn: plan.sBn, la: plan.layoutA, lb: plan.layoutB, sFirst: sA, sSecond: sB };
  if (k.la === 'packed' || k.la === 'packedK') throw new Error('matmul: only one operand can be packed'); // planMatmul packs at most one
  const rb = batch.length;
  const tilesM = Math.ceil(k.M / (v.rows * v.wgRows));
  const tilesN = Math.ceil(k.N / (v.cols * v.wgCols));
  const workgroups = numel(batch) * tilesM * tilesN;
  // The packed operand gets one texture layer per batch index, in row-major order; texels along
  // K pack its transpose [N, K] (contiguous along K: a plain copy).
  const view = (shape: number[], strides: number[]): GpuView => ({ buffer: k.second.buffer, shape: [...batch, ...shape], strides: [...k.sSecond, ...strides], offset: k.second.offset, dtype: 'f32' });
  if (packA && !(transposedC && k.lb === 'packed' && rb === 0)) throw new Error('matmul: a prepacked A needs a plan that packs A in one layer');
  const packed =
    k.lb === 'packed' ? (packA ? packA() : packIntoTexture(view([plan.K, k.N], [k.sBk, k.sBn]))) : k.lb === 'packedK' ? packIntoTexture(view([k.N, plan.K], [k.sBn, k.sBk])) : null;
  const params = new Uint32Array(P.batchShape + 4 * rb);
  params[P.M] = k.M;
  params[P.N] = k.N;
  params[P.K] = plan.K;
  params[P.tilesM] = tilesM;
  params[P.tilesN] = tilesN;
  params[P.offC] = 0;
  params[P.offA] = k.first.offset;
  params[P.offB] = packed ? 0 : k.second.offset;
  params[P.sAm] = k.sAm;
  params[P.sAk] = k.sAk;
  params[P.sBk] = k.sBk;
  params[P.sBn] = k.sBn;
  params[P.alpha] = f32Bits(alpha);
  params[P.offBias] = bias?.offset ?? 0;
  params[P.sBias] = bias?.strides[0] ?? 0;
  params[P.workgroups] = workgroups;
  params.set(batch, P.batchShape);
  [sC, k.sFirst, packed ? contiguousStrides(batch) : k.sSecond].forEach((s, i) => params.set(s, P.batchShape + (i + 1) * rb));
  const spec: MatmulSpec = { v: withDefaults(v), la: k.la, lb: k.lb, batchRank: rb, bias: bias !== undefined, transposedC };
  const second: Binding = packed ? { textureView: packed.view } : k.second.buffer;
  runtime().dispatch({
    ...templateLaunch('matmul', spec, matmulWgsl),
    bindings: bias ? [k.first.buffer, second, bias.buffer, out] : [k.first.buffer, second, out],
    params,
    workgroups,
  });
  // Later dispatches may reuse the texture at once: they run after this one.
  if (packed) runtime().textures.release(packed);
  return { buffer: out, shape, dtype: 'f32' };
}

/** The variant with its optional switches spelt out, so equal variants give equal keys. */
function withDefaults(v: MatmulVariant): MatmulVariant {
  return { ...v, broadcastA: v.broadcastA ?? false, textureB: v.textureB ?? false };
}
