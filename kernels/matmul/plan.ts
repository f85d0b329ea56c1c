/**
 * Planning a matmul: shape checks (errors name `matmul` and both shapes), batch broadcasting and
 * folding, the variant, which operand a packed variant packs, and how each operand is read.
 */
import { runtime } from '../runtime.js';
import { broadcastShapes, broadcastStrides, coalesce, contiguousStrides, numel, sameShape, shapeToString } from '../shape.js';
import { checkVariant, packedOperand, pickMatmulVariant, type MatmulVariant } from './variants.js';
import { broadcastAlongMFits } from './readers/broadcastA.js';
import type { GpuView } from '../view.js';
import type { StoreActivation } from '../elementwise.js';

/** Options of one matmul launch (`matmul`, `planMatmul`): scaling, a fused bias, and overrides for tests. */
export interface MatmulOptions {
  /** Scales the product (attention's 1/√d); default 1. */
  alpha?: number;
  /** Added to every row after scaling: a 1-D view of length N. */
  bias?: GpuView;
  /** Forces a variant (tests, benchmarks); default `pickMatmulVariant(runtime().adapterInfo, rows, N)`. */
  variant?: MatmulVariant;
  /** Stores C one element at a time where four would fit (tests, benchmarks: the stores before vec4 ones). */
  scalarStores?: boolean;
  /** Forces which operand a packed variant packs (tests); default `packedOperand(rows, N)`. */
  packed?: 'a' | 'b';
  /**
   * How the packed operand's texels run: 'n' (default), four columns at one k; 'k', four steps of
   * K of one column, which packs an operand contiguous along K (a transposed weight, or x packed
   * for Cᵀ) with a plain copy instead of a transpose.
   */
  packAlong?: 'n' | 'k';
  /**
   * The result's dims in the order they are laid out in memory, outermost first (a permutation of
   * 0 … rank−1 ending with the last dim, whose elements stay adjacent); default row-major. Attention
   * stores its context [B, H, T, D] as [B, T, H, D] this way, so merging the heads needs no copy.
   */
  memoryOrder?: readonly number[];
  /**
   * A second result the epilogue stores beside the product (`matmulThen`): an activation of each
   * element, or the product plus `addend` (broadcast to the result's shape, any strides).
   */
  then?: { activation: StoreActivation } | { addend: GpuView };
  /**
   * Added to the product in its store, which is then the one result: a view broadcast to the
   * result's shape, any strides (a gradient accumulated before, folded into the product that
   * makes the next one). Not with `then`.
   */
  accumulate?: GpuView;
}

/** The view the epilogue adds: `then.addend` or `accumulate`. */
export function addendOf(options: MatmulOptions): GpuView | null {
  return options.accumulate ?? (options.then && 'addend' in options.then ? options.then.addend : null);
}

/**
 * Element strides of a dense result of `shape` laid out in `memoryOrder` (outermost first), or
 * row-major without one. Throws unless the order is a permutation that keeps the last dim last.
 */
export function resultStrides(shape: readonly number[], memoryOrder?: readonly number[]): number[] {
  const r = shape.length;
  if (!memoryOrder) return contiguousStrides(shape);
  const valid = memoryOrder.length === r && memoryOrder[r - 1] === r - 1 && new Set(memoryOrder).size === r && memoryOrder.every((d) => Number.isInteger(d) && d >= 0 && d < r);
  if (!valid) throw new Error(`matmul: memoryOrder [${memoryOrder.join(', ')}] is not a permutation of the ${r} result dims ending with the last`);
  const strides = new Array<number>(r).fill(0);
  let step = 1;
  for (let i = r - 1; i >= 0; i--) {
    strides[memoryOrder[i]!] = step;
    step *= shape[memoryOrder[i]!]!;
  }
  return strides;
}

/** How the template reads an operand: along its contiguous dimension (K, or M/N) and with vec4 or not. */
export type MatmulLayout = 'k4' | 'mn4' | 'k' | 'mn';
type Layout = MatmulLayout;
/**
 * A packed operand's texture: 'packed', texel (x, k) = 4 consecutive columns (N) at step k;
 * 'packedK', texel (x, n) = 4 consecutive steps of K of column n.
 */
export type MatmulPackedLayout = 'packed' | 'packedK';

function normStride(size: number, stride: number): number {
  return size === 1 ? 0 : stride;
}

/**
 * Chooses how the template reads an operand. `mnExtent`/`sMn`: its M (or N) size and stride.
 * vec4 needs the contiguous dimension's size, the other strides and the offset to be multiples
 * of 4 (so every vector load is aligned and never straddles the end of a row). An operand shared
 * by subgroup broadcast (`broadcast`) is read 4 steps of K of one row per lane (vec4 along K, or
 * scalar), or, when contiguous along M, as vec4s of four rows (readers/broadcastA.ts).
 */
function layoutOf(
  v: MatmulVariant,
  tileMn: number,
  mnExtent: number,
  K: number,
  sMn: number,
  sK: number,
  offset: number,
  batchStrides: readonly number[],
  broadcast: boolean,
): Layout {
  const aligned = (...xs: number[]): boolean => xs.every((x) => x % 4 === 0);
  const vec4 = v.vec4 && aligned(offset, ...batchStrides);
  if (broadcast) {
    if (vec4 && sK === 1 && aligned(K, sMn)) return 'k4';
    // Rows contiguous (a weight read transposed): vec4s of four rows, when the lanes share them evenly.
    if (vec4 && sMn === 1 && aligned(mnExtent, sK) && broadcastAlongMFits(v)) return 'mn4';
    return 'k';
  }
  if (vec4) {
    if (sK === 1 && aligned(K, sMn)) return 'k4';
    if (sMn === 1 && tileMn % 4 === 0 && aligned(mnExtent, sK)) return 'mn4';
  }
  return Math.abs(sK) <= Math.abs(sMn) && sK !== 0 ? 'k' : 'mn';
}

/** How one product will run: the folded problem, the operand layouts and the batch walk. */
export interface MatmulPlan {
  /** Result shape [...batch, M, N]. */
  shape: number[];
  /** The template parameters this product runs with (`pickMatmulVariant` unless forced). */
  variant: MatmulVariant;
  /** Rows after folding A-only batch dims into M. */
  M: number;
  /** Columns of the result. */
  N: number;
  /** The contracted dimension: columns of A, rows of B. */
  K: number;
  /** Element strides of A's rows/columns and B's rows/columns. */
  sAm: number;
  /** Element stride of A along K. */
  sAk: number;
  /** Element stride of B along K. */
  sBk: number;
  /** Element stride of B along N. */
  sBn: number;
  /**
   * How each operand is read: along K or along M/N, with vec4 loads ('…4') or scalar; 'packed'
   * or 'packedK' for the operand a packed variant copies into a texture first (`packIntoTexture`).
   * When A is the packed one, the kernel computes Cᵀ = Bᵀ·Aᵀ and B is read as its broadcast operand.
   */
  layoutA: Layout | MatmulPackedLayout;
  /** How B is read (see `layoutA`). */
  layoutB: Layout | MatmulPackedLayout;
  /** C's row stride: N unless `MatmulOptions.memoryOrder` lays the result out otherwise. */
  sCm: number;
  /** Element strides of the whole result [...batch, M, N] (`resultStrides`). */
  strides: number[];
  /** Batch dims left after coalescing and folding, and their element strides for C, A and B. */
  batch: number[];
  /** Element strides of C, A and B along each of `batch`. */
  batchStrides: [number[], number[], number[]];
  /** The addend of `then`: its strides along C's rows and columns and along each of `batch`; null without one. */
  addend: { sEm: number; sEn: number; batchStrides: number[] } | null;
}

/** Plans alpha · a · b: checks shapes (errors name `matmul` and both shapes), folds, picks layouts. */
export function planMatmul(a: GpuView, b: GpuView, options: MatmulOptions = {}): MatmulPlan {
  const fail = (why: string): never => {
    throw new Error(`matmul: shapes ${shapeToString(a.shape)} and ${shapeToString(b.shape)} ${why}`);
  };
  if (a.dtype === 'i32' || b.dtype === 'i32') fail(`must be f32 or 16-bit floats (got ${a.dtype} and ${b.dtype})`);
  if (a.shape.length < 2 || b.shape.length < 2) fail('need rank ≥ 2 ([..., M, K] and [..., K, N])');
  const M = a.shape[a.shape.length - 2]!;
  const K = a.shape[a.shape.length - 1]!;
  const Kb = b.shape[b.shape.length - 2]!;
  const N = b.shape[b.shape.length - 1]!;
  if (K !== Kb) fail(`do not match: inner dimensions ${K} and ${Kb} differ`);
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  let batch: number[] = [];
  try {
    batch = broadcastShapes('matmul', batchA, batchB);
  } catch {
    fail(`have batch dimensions ${shapeToString(batchA)} and ${shapeToString(batchB)} that cannot be broadcast`);
  }
  const { bias } = options;
  if (bias && (bias.dtype !== 'f32' || bias.shape.length !== 1 || bias.shape[0] !== N)) {
    fail(`need a bias of shape [${N}], got ${bias.dtype}${shapeToString(bias.shape)}`);
  }
  const sAk = normStride(K, a.strides[a.shape.length - 1]!);
  const sBk = normStride(K, b.strides[b.shape.length - 2]!);
  const sBn = normStride(N, b.strides[b.shape.length - 1]!);
  const strides = resultStrides([...batch, M, N], options.memoryOrder);
  if (options.accumulate && options.then) fail('takes a second result (`then`) or an addend to accumulate, not both');
  const addend = addendOf(options);
  let addendStrides: number[] = [];
  if (addend) {
    const productShape = [...batch, M, N];
    let fits = false;
    try {
      fits = sameShape(broadcastShapes('matmul', productShape, addend.shape), productShape);
    } catch {
      fits = false;
    }
    if (!fits) fail(`cannot add an addend of shape ${shapeToString(addend.shape)} to their product`);
    addendStrides = broadcastStrides(addend.shape, addend.strides, productShape);
    if (addend.dtype !== 'f32') fail(`need an f32 addend, got ${addend.dtype}`);
  }
  const merged = coalesce(batch, [
    strides.slice(0, -2),
    broadcastStrides(batchA, a.strides.slice(0, -2), batch),
    broadcastStrides(batchB, b.strides.slice(0, -2), batch),
    addendStrides.slice(0, -2).length === batch.length ? addendStrides.slice(0, -2) : batch.map(() => 0),
  ]);
  // Batch dims that only A walks, in step with its rows, are more rows: one larger product
  // (x [B, T, in] · Wᵀ becomes one [B·T, in] · [in, out] product).
  let rows = M;
  let rowStride = normStride(M, a.strides[a.shape.length - 2]!);
  let cRowStride = strides[strides.length - 2]!;
  let eRowStride = addend ? normStride(M, addendStrides[addendStrides.length - 2]!) : 0;
  let dims = merged.shape;
  let [sC, sA, sB, sE] = merged.strides as [number[], number[], number[], number[]];
  while (dims.length > 0) {
    const last = dims.length - 1;
    if (sB[last] !== 0) break;
    if (rows === 1) {
      // a single row has no stride of its own
      rowStride = sA[last]!;
      cRowStride = sC[last]!;
      eRowStride = sE[last]!;
    } else if (sA[last] !== rows * rowStride || sC[last] !== rows * cRowStride || (addend && sE[last] !== rows * eRowStride)) break;
    rows *= dims[last]!;
    dims = dims.slice(0, last);
    sC = sC.slice(0, last);
    sA = sA.slice(0, last);
    sB = sB.slice(0, last);
    sE = sE.slice(0, last);
  }
  const sAm = normStride(rows, rowStride);
  let v = options.variant ?? pickMatmulVariant(runtime().adapterInfo, rows, N);
  let packed: 'a' | 'b' | null = v.textureB ? (options.packed ?? packedOperand(rows, N)) : null;
  // Texels along N unless asked otherwise: along K measured no better, even for operands contiguous
  // along K, whose packing it turns from a transpose into a copy (docs/benchmarks.md).
  const along = options.packAlong ?? 'n';
  const packedCols = packed === 'a' ? rows : N;
  const fits = along === 'k' ? packedFits(K, packedCols, numel(dims)) : packedFits(packedCols, K, numel(dims));
  if (packed && numel([...dims, rows, N]) > 0 && !fits) {
    if (options.variant) fail(`do not fit the texture limits of the packed variant ${JSON.stringify(v)}`);
    v = pickMatmulVariant({ ...runtime().adapterInfo, subgroupSize: null }, rows, N); // the best unpacked variant
    packed = null;
  }
  checkVariant(v);
  // vec4 along M/N needs whole vectors per invocation (registers) or per workgroup tile (shared).
  const tileM = v.sharedK > 0 ? v.rows * v.wgRows : v.rows;
  const tileN = v.sharedK > 0 ? v.cols * v.wgCols : v.cols;
  // The operand whose rows a broadcast variant shares across the subgroup: A, or B when A is packed.
  const broadcast = v.broadcastA ? (packed === 'a' ? 'b' : 'a') : null;
  const packedLayout: MatmulPackedLayout = along === 'k' ? 'packedK' : 'packed';
  return {
    shape: [...batch, M, N],
    variant: v,
    M: rows,
    N,
    K,
    sAm,
    sAk,
    sBk,
    sBn,
    sCm: cRowStride,
    strides,
    layoutA: packed === 'a' ? packedLayout : layoutOf(v, tileM, rows, K, sAm, sAk, a.offset, sA, broadcast === 'a'),
    layoutB: packed === 'b' ? packedLayout : layoutOf(v, tileN, N, K, sBn, sBk, b.offset, sB, broadcast === 'b'),
    batch: dims,
    batchStrides: [sC, sA, sB],
    addend: addend ? { sEm: eRowStride, sEn: normStride(N, addendStrides[addendStrides.length - 1]!), batchStrides: sE } : null,
  };
}

/** Whether a texture array of ⌈along/4⌉ × rows texels, a layer per batch index, fits the limits. */
function packedFits(along: number, rows: number, layers: number): boolean {
  const limits = runtime().limits;
  return along >= 1 && rows >= 1 && Math.ceil(along / 4) <= limits.maxTextureDimension2D && rows <= limits.maxTextureDimension2D && layers <= limits.maxTextureArrayLayers;
}

