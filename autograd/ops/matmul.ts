/**
 * Matrix products with their backward: `matmul`, `linear` (HF layout, weight [out, in]), and the
 * two attention products `attentionScores` (scale·q·kᵀ) and `attentionContext` (p·v). Each is its
 * own op because LRP overrides backward rules by op name (epsilon for `linear`, uniform for the
 * attention products). All four run the one batched kernel; transposed operands are passed as
 * views with swapped strides, never copied.
 */
import type { StoreActivation } from '../../kernels/elementwise.js';
import { matmul as matmulKernel, matmulThen } from '../../kernels/matmul.js';
import { broadcastShapes, sameShape, shapeToString } from '../../kernels/shape.js';
import type { GpuView } from '../../kernels/view.js';
import { defineOp, offerResult } from '../op.js';
import type { BackwardContext } from '../graph.js';
import type { Tensor } from '../tensor.js';
import { linearGradsPacked, withPrior } from './packedLinearGrads.js';
import { rowsView } from './rowsView.js';
import { sum } from './reduce.js';
import { sumToShape } from './sumToShape.js';
import { reshape, transpose } from './view.js';
import { wrap } from './wrap.js';

declare module '../opTypes.js' {
  interface OpAttrs {
    /** `matmul` has no attributes. */
    matmul: undefined;
    /** `linear` has no attributes (a bias is a third input). */
    linear: undefined;
    /** `attentionScores`' scale on q·kᵀ (1/√d). */
    attentionScores: { scale: number };
    /**
     * `attentionContext`'s memory order for its result (see `attentionContext`), or undefined for
     * row-major. It changes where the values are stored, never what they are.
     */
    attentionContext: { memoryOrder: readonly number[] } | undefined;
  }
}

/** The last two dimensions of a view swapped (strides only: no copy). */
function swapLast(x: GpuView): GpuView {
  const r = x.shape.length;
  const shape = [...x.shape];
  const strides = [...x.strides];
  [shape[r - 2], shape[r - 1]] = [shape[r - 1]!, shape[r - 2]!];
  [strides[r - 2], strides[r - 1]] = [strides[r - 1]!, strides[r - 2]!];
  return { buffer: x.buffer, shape, strides, offset: x.offset, dtype: x.dtype };
}

/** alpha · a · b on the GPU, as a Tensor (no recording: forward and backward helpers). */
function product(a: Tensor, b: Tensor, alpha = 1, memoryOrder?: readonly number[]): Tensor {
  // 16-bit weights are read as stored: the kernel widens each value as it loads it (an explanation
  // holds its weights at 16 bits and never makes an f32 copy of them).
  return wrap(matmulKernel(a, b, memoryOrder ? { alpha, memoryOrder } : { alpha }));
}

/**
 * Gradients of y = alpha · a · b for the inputs that need them, reduced over broadcast batch dims.
 * When b has no batch dims but a has, gB sums over a's batch: a and g are flattened to rows and
 * one product does the sum (no [batch, K, N] intermediate).
 */
function productGrads(a: Tensor, b: Tensor, g: Tensor, alpha: number, needs: readonly boolean[]): [Tensor | null, Tensor | null] {
  let ga: Tensor | null = null;
  let gb: Tensor | null = null;
  if (needs[0]) {
    const full = product(g, transpose(b), alpha);
    ga = sumToShape(full, a.shape);
    if (ga !== full) full.dispose();
  }
  if (needs[1]) {
    if (b.rank === 2 && a.rank > 2) {
      const K = a.shape[a.rank - 1]!;
      const N = b.shape[1]!;
      gb = product(transpose(reshape(a, [-1, K])), reshape(g, [-1, N]), alpha);
    } else {
      const full = product(transpose(a), g, alpha);
      gb = sumToShape(full, b.shape);
      if (gb !== full) full.dispose();
    }
  }
  return [ga, gb];
}

function checkRank(op: string, a: Tensor, b: Tensor, what: string): void {
  if (a.rank < 2 || b.rank < 2) throw new Error(`${op}: shapes ${shapeToString(a.shape)} and ${shapeToString(b.shape)} must be ${what}`);
}

const matmulOp = defineOp({
  name: 'matmul',
  role: 'product',
  forward: ([a, b]) => product(a!, b!),
  backward: (ctx, g) => productGrads(ctx.inputs[0]!, ctx.inputs[1]!, g, 1, ctx.needsGrad),
  backwardScaled: (ctx, g, factor) => productGrads(ctx.inputs[0]!, ctx.inputs[1]!, g, factor, ctx.needsGrad),
});

/** a[..., M, K] · b[..., K, N] → [..., M, N], batch dims broadcast (NumPy matmul for rank ≥ 2). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkRank('matmul', a, b, '[..., M, K] and [..., K, N]');
  return matmulOp([a, b], undefined);
}

const linearOp = defineOp({
  name: 'linear',
  role: 'linear',
  forward: ([x, w, bias]) => {
    const x2 = x!.rank === 1 ? reshape(x!, [1, x!.shape[0]!]) : x!;
    const y = wrap(matmulKernel(x2, swapLast(w!), bias ? { bias } : {}));
    if (x2 === x) return y;
    x2.dispose();
    const y1 = reshape(y, [w!.shape[0]!]);
    y.dispose();
    return y1;
  },
  // g goes straight into the product's packed texture where the product packs it (packedLinearGrads.ts).
  backward: (ctx, g) => linearGradsPacked(ctx, { op: 'copy', inputs: [g] }) ?? linearGrads(ctx, g),
});

/**
 * The gradients of `linear` for the output gradient `g`. A rule that has already summed g's rows
 * (fused with the kernel that made g) passes that sum as `biasGrad`, and it is used as the bias's
 * gradient instead of summing again.
 */
export function linearGrads(ctx: BackwardContext, g: Tensor, biasGrad: Tensor | null = null): (Tensor | null)[] {
  const [x, w, bias] = ctx.inputs as [Tensor, Tensor, Tensor | undefined];
  const out = w.shape[0]!;
  const inF = w.shape[1]!;
  // gx = g · W: W [out, in] is already the [K, N] operand. The gradient x has accumulated so far
  // (its other consumers': q, k and v of one input) is added in the product's store, not by the sweep.
  const prior = ctx.needsGrad[0] ? (ctx.takeAccumulatedGrad?.(0) ?? null) : null;
  const priorRows = prior ? rowsView(prior) : null;
  let gx: Tensor | null = null;
  if (ctx.needsGrad[0]) {
    const flat = wrap(matmulKernel(reshape(g, [-1, out]), w, priorRows ? { accumulate: priorRows } : {}));
    gx = reshape(withPrior(flat, prior, priorRows !== null), x.shape);
  }
  // gW = Σ_rows gᵀ · x, one [out, rows] · [rows, in] product.
  const gw = ctx.needsGrad[1] ? product(transpose(reshape(g, [-1, out])), reshape(x, [-1, inF])) : null;
  const grads: (Tensor | null)[] = [gx, gw];
  if (bias) grads.push(ctx.needsGrad[2] ? (biasGrad ?? sum(reshape(g, [-1, out]), 0)) : null);
  return grads;
}

/**
 * HF Linear: x[..., in] · weightᵀ + bias with weight [out, in] (read transposed in place) and
 * bias [out] added inside the kernel.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkLinear(x, weight, bias ?? null);
  return linearOp(bias ? [x, weight, bias] : [x, weight], undefined);
}

/**
 * `linear(x, weight, bias)`, whose kernel also stores `then` of the result and offers it to that
 * op (`offerResult`): an activation of z, or `add(residual, z)` (a residual block adding the
 * layer's output to its stream). The caller's own call of that op then records its node without a
 * dispatch of its own. Both nodes are exactly those of the two separate calls (same op names,
 * rules, saved tensors), so only the dispatch count changes.
 */
export function linearOffering(x: Tensor, weight: Tensor, bias: Tensor | null, then: StoreActivation | { residual: Tensor }): Tensor {
  checkLinear(x, weight, bias);
  const residual = typeof then === 'object' ? then.residual : null;
  const outShape = [...x.shape.slice(0, -1), weight.shape[0]!];
  // `add(residual, z)` is offered only when it is z's shape (no broadcast beyond it) and f32.
  if (x.rank < 2 || (residual && (residual.dtype !== 'f32' || !sameShape(residual.shape, outShape)))) return linear(x, weight, bias);
  const { product, then: second } = matmulThen(x, swapLast(weight), { ...(bias ? { bias } : {}), then: residual ? { addend: residual } : { activation: then as StoreActivation } });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  offerResult('linear', inputs, undefined, wrap(product));
  const z = linearOp(inputs, undefined);
  if (residual) offerResult('add', [residual, z], { scalars: [] }, wrap(second));
  else offerResult(then as StoreActivation, [z], { scalars: [] }, wrap(second));
  return z;
}

function checkLinear(x: Tensor, weight: Tensor, bias: Tensor | null): void {
  const inF = x.shape[x.rank - 1];
  const ok =
    x.rank >= 1 &&
    weight.rank === 2 &&
    weight.shape[1] === inF &&
    (!bias || (bias.rank === 1 && bias.shape[0] === weight.shape[0]));
  if (!ok) {
    const b = bias ? ` and bias ${shapeToString(bias.shape)}` : '';
    throw new Error(`linear: shapes ${shapeToString(x.shape)} and weight ${shapeToString(weight.shape)}${b} do not fit x[..., in] · W[out, in]ᵀ + b[out]`);
  }
}

const scoresOp = defineOp({
  name: 'attentionScores',
  role: 'product',
  forward: ([q, k], { scale }) => wrap(matmulKernel(q!, swapLast(k!), { alpha: scale })),
  backward: (ctx, g) => scoresGrads(ctx.inputs, g, ctx.attrs.scale, ctx.needsGrad),
  backwardScaled: (ctx, g, factor) => scoresGrads(ctx.inputs, g, ctx.attrs.scale * factor, ctx.needsGrad),
});

/** y = s·q·kᵀ: gq = s·g·k, gk = s·gᵀ·q (summed over broadcast batch dims). */
function scoresGrads(inputs: readonly Tensor[], g: Tensor, s: number, needs: readonly boolean[]): (Tensor | null)[] {
  const [q, k] = inputs as [Tensor, Tensor];
  const gq = needs[0] ? sumToShape(product(g, k, s), q.shape) : null;
  const gk = needs[1] ? sumToShape(product(transpose(g), q, s), k.shape) : null;
  return [gq, gk];
}

/**
 * scale · q · kᵀ: q [..., T, D], k [..., S, D] → [..., T, S], batch dims broadcast, so grouped-query
 * attention passes q [B, Hkv, G, T, D] and k [B, Hkv, 1, S, D] without repeating k.
 */
export function attentionScores(q: Tensor, k: Tensor, scale: number): Tensor {
  checkRank('attentionScores', q, k, 'q [..., T, D] and k [..., S, D]');
  if (q.shape[q.rank - 1] !== k.shape[k.rank - 1]) {
    throw new Error(`attentionScores: shapes ${shapeToString(q.shape)} and ${shapeToString(k.shape)} have different head dims`);
  }
  return scoresOp([q, k], { scale });
}

/**
 * `attentionScores(q, k, scale)`, whose kernel also stores the scores plus `addend` (the attention
 * mask, broadcast to the scores' shape) and offers that sum to `add(scores, addend)` (see
 * `linearOffering`): the mask costs no pass of its own, and the graph keeps its `add` node.
 */
export function attentionScoresOffering(q: Tensor, k: Tensor, scale: number, addend: Tensor): Tensor {
  checkRank('attentionScores', q, k, 'q [..., T, D] and k [..., S, D]');
  const scoresShape = [...broadcastShapes('attentionScores', q.shape.slice(0, -2), k.shape.slice(0, -2)), q.shape[q.rank - 2]!, k.shape[k.rank - 2]!];
  let fits = addend.dtype === 'f32' && q.shape[q.rank - 1] === k.shape[k.rank - 1];
  try {
    fits &&= sameShape(broadcastShapes('add', scoresShape, addend.shape), scoresShape);
  } catch {
    fits = false;
  }
  if (!fits) return attentionScores(q, k, scale);
  const { product, then } = matmulThen(q, swapLast(k), { alpha: scale, then: { addend } });
  offerResult('attentionScores', [q, k], { scale }, wrap(product));
  const scores = scoresOp([q, k], { scale });
  offerResult('add', [scores, addend], { scalars: [] }, wrap(then));
  return scores;
}

const contextOp = defineOp({
  name: 'attentionContext',
  role: 'product',
  forward: ([p, v], attrs) => product(p!, v!, 1, attrs?.memoryOrder),
  backward: (ctx, g) => productGrads(ctx.inputs[0]!, ctx.inputs[1]!, g, 1, ctx.needsGrad),
  backwardScaled: (ctx, g, factor) => productGrads(ctx.inputs[0]!, ctx.inputs[1]!, g, factor, ctx.needsGrad),
});

/**
 * p [..., T, S] · v [..., S, D] → [..., T, D], batch dims broadcast. `memoryOrder` (the result's dims
 * outermost first, ending with the last) stores the result in another dense layout and returns it
 * as a strided view: attention passes [0, 3, 1, 2, 4] for [B, Hkv, G, T, D], so the heads are
 * already side by side per position and the merge before the output projection is a view, not a copy.
 */
export function attentionContext(p: Tensor, v: Tensor, memoryOrder?: readonly number[]): Tensor {
  checkRank('attentionContext', p, v, 'p [..., T, S] and v [..., S, D]');
  if (p.shape[p.rank - 1] !== v.shape[v.rank - 2]) {
    throw new Error(`attentionContext: shapes ${shapeToString(p.shape)} and ${shapeToString(v.shape)} have different key lengths`);
  }
  return contextOp([p, v], memoryOrder ? { memoryOrder: [...memoryOrder] } : undefined);
}
