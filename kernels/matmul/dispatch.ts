/**
 * The matmul launcher: plans the product, packs the texture operand of a packed variant, fills
 * the parameter block and records the dispatch under a key derived from the template's spec.
 */
import { elementwise } from '../elementwise.js';
import { packIntoTexture } from '../packTexture.js';
import { runtime, type Binding } from '../runtime.js';
import type { ScratchTexture } from '../texturePool.js';
import { contiguousStrides, numel } from '../shape.js';
import { allocate, f32Bits, isHalf, type GpuView, type KernelOutput } from '../view.js';
import { templateLaunch } from '../wgsl/specKey.js';
import { addendOf, planMatmul, type MatmulOptions, type MatmulPlan } from './plan.js';
import { P, type MatmulSpec, type OperandDType } from './spec.js';
import { matmulWgsl } from './template.js';
import type { MatmulVariant } from './variants.js';

/**
 * alpha · a · b (+ bias) with batch broadcasting: a [..., M, K], b [..., K, N] → [..., M, N].
 * Both operands must have rank ≥ 2; the result is a new tensor, contiguous unless
 * `options.memoryOrder` asks for another dense layout (then `strides` says which).
 */
export function matmul(a: GpuView, b: GpuView, options: MatmulOptions = {}): KernelOutput {
  if (options.then) throw new Error('matmul: a second result (`then`) is returned by matmulThen');
  return launch(a, b, options, planMatmul(a, b, options)).product;
}

/**
 * Runs a planned product. `packA`, when given, makes the texture of A for a plan that packs A
 * ('packed' layout, one layer) in place of `packIntoTexture` (kernels/matmul/prepacked.ts: a
 * caller that writes A straight into that layout); A's buffer is then never bound.
 */
export function launchMatmul(plan: MatmulPlan, a: GpuView, b: GpuView, options: MatmulOptions, packA?: () => ScratchTexture): KernelOutput {
  return launch(a, b, options, plan, packA).product;
}

/**
 * The product and, from the same dispatch, a second result: `then.activation` of each element, or
 * the product plus `then.addend` (broadcast to the product's shape). Both results have the
 * product's layout. This is how a transformer's linear layer and the GELU after it, or the
 * attention scores and the mask added to them, cost one pass instead of two; the autograd layer
 * still records them as two ops (autograd/ops/fusedStores.ts).
 */
export function matmulThen(a: GpuView, b: GpuView, options: MatmulOptions & Required<Pick<MatmulOptions, 'then'>>): { product: KernelOutput; then: KernelOutput } {
  const { product, then } = launch(a, b, options, planMatmul(a, b, options));
  return { product, then: then! };
}

function launch(a: GpuView, b: GpuView, options: MatmulOptions, plan: MatmulPlan, packA?: () => ScratchTexture): { product: KernelOutput; then: KernelOutput | null } {
  // 16-bit operands (weights) are widened as they are read by the register path's buffer readers
  // and by the packing; the shared-memory path stages f32 tiles, so it reads widened copies.
  const temporaries: GPUBuffer[] = [];
  if (plan.variant.sharedK > 0 && (isHalf(a.dtype) || isHalf(b.dtype)) && !packA) {
    const widen = (x: GpuView): GpuView => {
      if (!isHalf(x.dtype)) return x;
      const copy = elementwise('copy', [x]);
      temporaries.push(copy.buffer);
      return { buffer: copy.buffer, shape: copy.shape, strides: contiguousStrides(copy.shape), offset: 0, dtype: 'f32' };
    };
    [a, b] = [widen(a), widen(b)];
    plan = planMatmul(a, b, options);
  }
  const { shape, variant: v, batch } = plan;
  const { bias, alpha = 1 } = options;
  const out = allocate('matmul', shape, 'f32');
  const thenOut = options.then ? allocate('matmul', shape, 'f32') : null;
  // A result in another memory order (`MatmulOptions.memoryOrder`) is returned as its strided view.
  const resultIn = (buffer: GPUBuffer): KernelOutput =>
    options.memoryOrder ? { buffer, shape, dtype: 'f32', strides: plan.strides } : { buffer, shape, dtype: 'f32' };
  const result = { product: resultIn(out), then: thenOut ? resultIn(thenOut) : null };
  if (numel(shape) === 0) return result;
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
  const view = (shape: number[], strides: number[]): GpuView => ({ buffer: k.second.buffer, shape: [...batch, ...shape], strides: [...k.sSecond, ...strides], offset: k.second.offset, dtype: k.second.dtype });
  if (packA && !(transposedC && k.lb === 'packed' && rb === 0)) throw new Error('matmul: a prepacked A needs a plan that packs A in one layer');
  const pack =
    k.lb === 'packed'
      ? packA
        ? { texture: packA(), shared: false }
        : packShared(view([plan.K, k.N], [k.sBk, k.sBn]))
      : k.lb === 'packedK'
        ? packShared(view([k.N, plan.K], [k.sBn, k.sBk]))
        : null;
  const packed = pack?.texture ?? null;
  const params = new Uint32Array(P.batchShape + 5 * rb);
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
  params[P.sCm] = plan.sCm;
  const addend = addendOf(options);
  if (addend) {
    params[P.offE] = addend.offset;
    params[P.sEm] = plan.addend!.sEm;
    params[P.sEn] = plan.addend!.sEn;
  }
  params.set(batch, P.batchShape);
  [sC, k.sFirst, packed ? contiguousStrides(batch) : k.sSecond, plan.addend?.batchStrides ?? batch.map(() => 0)].forEach((s, i) =>
    params.set(s, P.batchShape + (i + 1) * rb),
  );
  const spec: MatmulSpec = {
    v: withDefaults(v),
    la: k.la,
    lb: k.lb,
    batchRank: rb,
    bias: bias !== undefined,
    transposedC,
    dtypeA: k.first.dtype as OperandDType,
    dtypeB: packed ? 'f32' : (k.second.dtype as OperandDType),
    then: options.accumulate ? 'accumulate' : !options.then ? '' : 'addend' in options.then ? 'add' : options.then.activation,
    storeVec4: transposedC && !options.scalarStores && quadsFit(k.M, v.rows, plan.sCm, sC),
  };
  const second: Binding = packed ? { textureView: packed.view } : k.second.buffer;
  runtime().dispatch({
    ...templateLaunch('matmul', spec, matmulWgsl),
    bindings: [k.first.buffer, second, ...(bias ? [bias.buffer] : []), out, ...(thenOut ? [thenOut] : []), ...(addend ? [addend.buffer] : [])],
    params,
    workgroups,
  });
  // Later dispatches may reuse the texture at once: they run after this one (a shared one, once its scope ends).
  if (pack && !pack.shared) runtime().textures.release(pack.texture);
  for (const t of temporaries) runtime().pool.release(t);
  return result;
}

/** The scope of `sharingPacksOf`: the buffer whose views' packed textures are kept, by view. */
interface PackSharing {
  buffer: GPUBuffer;
  textures: Map<string, ScratchTexture>;
}

let sharing: PackSharing | null = null;

/** A view's identity within its buffer: what makes two packings of it equal. */
function packKey(v: GpuView): string {
  return `${v.dtype}@${v.offset}:${v.shape.join(',')}/${v.strides.join(',')}`;
}

/**
 * `packIntoTexture`, or within `sharingPacksOf(buffer)` for a view of that buffer, the texture
 * already packed from that view; `shared` textures are released by the scope, not the product.
 */
function packShared(v: GpuView): { texture: ScratchTexture; shared: boolean } {
  if (!sharing || v.buffer !== sharing.buffer) return { texture: packIntoTexture(v), shared: false };
  const key = packKey(v);
  let texture = sharing.textures.get(key);
  if (!texture) {
    texture = packIntoTexture(v);
    sharing.textures.set(key, texture);
  }
  return { texture, shared: true };
}

/**
 * Runs `fn` with every product that packs a view of `buffer` (into the texture a packed variant
 * reads) packing each view once: products that multiply the same activations by different
 * weights (a transformer's q, k and v projections; a gated MLP's gate and up) then share one
 * packing. The textures are released when `fn` returns. The caller keeps the tensor that owns
 * `buffer` alive for the whole call, so the buffer's contents cannot change within it (tensors
 * are never written after they are made, and a live tensor's buffer is not handed out again).
 */
export function sharingPacksOf<T>(buffer: GPUBuffer, fn: () => T): T {
  const outer = sharing;
  const scope: PackSharing = { buffer, textures: new Map() };
  sharing = scope;
  try {
    return fn();
  } finally {
    sharing = outer;
    for (const texture of scope.textures.values()) runtime().textures.release(texture);
  }
}

/**
 * Whether a transposed C can be stored four of the kernel's rows at a time: its M and tile rows
 * come in whole quads, and C's row and batch strides keep every quad aligned (C starts at offset 0).
 * Only transposed: with C in row order, vec4 stores of the accumulators measured slower on
 * lavapipe than scalar ones (docs/benchmarks.md).
 */
function quadsFit(rows: number, tileRows: number, sCm: number, batchStrides: readonly number[]): boolean {
  return rows % 4 === 0 && tileRows % 4 === 0 && sCm % 4 === 0 && batchStrides.every((x) => x % 4 === 0);
}

/** The variant with its optional switches spelt out, so equal variants give equal keys. */
function withDefaults(v: MatmulVariant): MatmulVariant {
  return { ...v, broadcastA: v.broadcastA ?? false, textureB: v.textureB ?? false };
}
