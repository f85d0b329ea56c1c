/**
 * The backward sweep's accumulation: slice gradients kept as windows and assembled in one
 * `windowSum` dispatch (tiling, gaps, overlaps, steps, several axes, a full-shape use alongside,
 * leaves, retainGraph, an observer that reads them), checked against values computed on the host
 * and against the unfused path (slices padded and added one by one); and gradients folded into a
 * backward's own kernel (`takeAccumulatedGrad`: the norm rule's row kernel), with the ledger
 * booking only what the node itself passed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose } from './helpers/close.js';
import { modelDir, referenceInput } from './helpers/fixtures.js';
import { runtime } from '../kernels/runtime.js';
import { startMeter } from '../kernels/stats.js';
import { normScaleDetachedGrad } from '../kernels/norm.js';
import { windowSum } from '../kernels/pad.js';
import {
  Tensor,
  add,
  layerNorm,
  mul,
  permute,
  scale,
  slice,
  sum,
  tanh,
  tidy,
  withBackwardRules,
  type BackwardContext,
  type BackwardRule,
} from '../autograd/index.js';
import { backward, type NodeVisit } from '../autograd/backward.js';
import { wrap } from '../autograd/ops/wrap.js';
import { normScaleDetachedRule } from '../lrp/rules/normScale.js';
import { LedgerRecorder } from '../lrp/ledger.js';
import { withDotBatch } from '../lrp/dotBatch.js';
import { epsilonRule } from '../lrp/rules/epsilon.js';
import { linear } from '../autograd/ops/matmul.js';
import { explain } from '../lrp/explain.js';
import { loadModel } from '../nn/folder.js';
import { Rng } from '../autograd/rng.js';

beforeAll(async () => {
  await gpu();
});

const rng = new Rng(16);
const randoms = (n: number): number[] => Array.from({ length: n }, () => 2 * rng.next() - 1);
const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const live = (): number => runtime().memory().liveBytes;

interface Use {
  axis: number;
  start: number;
  end: number;
  step?: number;
}

/** The slice's own backward replaced by itself as a rule: the sweep pads and adds as it used to. */
const paddedSlice: BackwardRule = { name: 'padded slice', backward: (ctx, g) => ctx.defaultBackward(g) };

/** Indices (per axis) that slice `use` keeps from an axis of length `size`. */
function kept(use: Use, size: number): number[] {
  const out: number[] = [];
  for (let i = use.start; i < Math.min(use.end, size); i += use.step ?? 1) out.push(i);
  return out;
}

/**
 * loss = Σ_k Σ slice_k(base) ⊙ c_k (through a permute, so the windows' gradients arrive as strided
 * views) [+ Σ base ⊙ c_full], base = x (a leaf) or 1·x; returns x's gradient, the host's expected
 * gradient, and the dispatches of the backward by kernel key.
 */
async function run(shape: number[], uses: Use[], opts: { full?: boolean; leaf?: boolean; unfused?: boolean; retainTwice?: boolean } = {}) {
  const x = Tensor.fromArray(randoms(numel(shape)), shape).setRequiresGrad();
  const constants: Tensor[] = [];
  const expected = new Float64Array(numel(shape));
  const strides = shape.map((_, i) => numel(shape.slice(i + 1)));
  const build = (): Tensor => {
    const base = opts.leaf ? x : scale(x, 1);
    let loss: Tensor | null = null;
    const plus = (t: Tensor): void => void (loss = loss ? add(loss, t) : t);
    if (opts.full) {
      const c = randoms(numel(shape));
      constants.push(Tensor.fromArray(c, shape));
      c.forEach((v, i) => (expected[i]! += v));
      plus(sum(mul(base, constants.at(-1)!)));
    }
    for (const use of uses) {
      const s = slice(base, use.axis, use.start, use.end, use.step ?? 1);
      // Reverse the dims: the gradient reaching the slice is a permuted (strided) view.
      const order = s.shape.map((_, i) => s.rank - 1 - i);
      const p = permute(s, order);
      const c = randoms(p.size);
      constants.push(Tensor.fromArray(c, p.shape));
      plus(sum(mul(p, constants.at(-1)!)));
      // Host: c (in the permuted layout) lands at the kept indices of x.
      const idx = kept(use, shape[use.axis]!);
      const pStrides = p.shape.map((_, i) => numel(p.shape.slice(i + 1)));
      for (let flat = 0; flat < numel(s.shape); flat++) {
        let rem = flat;
        let xOff = 0;
        let pOff = 0;
        for (let d = s.rank - 1; d >= 0; d--) {
          const coord = rem % s.shape[d]!;
          rem = Math.floor(rem / s.shape[d]!);
          xOff += (d === use.axis ? idx[coord]! : coord) * strides[d]!;
          pOff += coord * pStrides[s.rank - 1 - d]!;
        }
        expected[xOff]! += c[pOff]!;
      }
    }
    return loss!;
  };
  // The graph's intermediates are freed at once (their nodes keep what backward needs).
  const loss = tidy(() => (opts.unfused ? withBackwardRules({ slice: paddedSlice }, build) : build()));
  const meter = startMeter(runtime(), { byKernel: true });
  backward(loss, { retainGraph: opts.retainTwice });
  if (opts.retainTwice) {
    backward(loss);
    expected.forEach((v, i) => (expected[i] = 2 * v));
  }
  meter.stop();
  const dispatches = (prefix: string): number => meter.kernels().filter((k) => k.key.startsWith(prefix)).reduce((n, k) => n + k.dispatches, 0);
  const grad = Array.from(await x.grad!.toArray());
  loss.dispose();
  x.dispose();
  for (const c of constants) c.dispose();
  return { grad, expected: Array.from(expected), windowSums: dispatches('windowSum/'), adds: dispatches('elementwise/add') };
}

/** Runs a case fused and unfused; both match the host, and the fused one issues `windowSums` dispatches and no add. */
async function check(shape: number[], uses: Use[], opts: { full?: boolean; leaf?: boolean; retainTwice?: boolean }, windowSums: number): Promise<void> {
  const start = live();
  const fused = await run(shape, uses, opts);
  const unfused = await run(shape, uses, { ...opts, unfused: true });
  expectClose(fused.grad, fused.expected, { rtol: 1e-6, atol: 1e-6 }, 'fused vs host');
  expectClose(unfused.grad, unfused.expected, { rtol: 1e-6, atol: 1e-6 }, 'unfused vs host');
  expect(fused.windowSums).toBe(windowSums);
  // The second backward adds into x.grad; a sliced leaf's windows are assembled into it instead.
  expect(fused.adds).toBe(opts.retainTwice && !opts.leaf ? 1 : 0);
  expect(live()).toBe(start);
}

describe('slice gradients assembled by the sweep', () => {
  it('three slices tiling an axis: the gradient is their concatenation, one dispatch', async () => {
    await check([2, 6, 3], [{ axis: 1, start: 0, end: 2 }, { axis: 1, start: 2, end: 5 }, { axis: 1, start: 5, end: 6 }], {}, 1);
  });

  it('two slices with a gap: zeros in the gap', async () => {
    const fused = await run([2, 7, 3], [{ axis: 1, start: 0, end: 2 }, { axis: 1, start: 4, end: 7 }]);
    expectClose(fused.grad, fused.expected, { rtol: 1e-6, atol: 1e-6 });
    expect(fused.grad.slice(2 * 3, 4 * 3)).toEqual([0, 0, 0, 0, 0, 0]);
    await check([2, 7, 3], [{ axis: 1, start: 0, end: 2 }, { axis: 1, start: 4, end: 7 }], {}, 1);
  });

  it('overlapping slices: the overlap gets both', async () => {
    await check([3, 8], [{ axis: 1, start: 0, end: 5 }, { axis: 1, start: 3, end: 8 }, { axis: 1, start: 4, end: 6 }], {}, 1);
  });

  it('a slice and a full-shape use of the same tensor: the window added into the sum, one dispatch', async () => {
    await check([4, 5], [{ axis: 0, start: 1, end: 3 }], { full: true }, 1);
  });

  it('strided slices (steps 2 and 3, interleaved and with gaps)', async () => {
    await check([2, 9, 2], [{ axis: 1, start: 0, end: 9, step: 2 }, { axis: 1, start: 1, end: 9, step: 2 }], {}, 1);
    await check([2, 9, 2], [{ axis: 1, start: 1, end: 9, step: 3 }, { axis: 1, start: 2, end: 5 }], { full: true }, 1);
  });

  it('slices along two axes: one dispatch per axis', async () => {
    await check([4, 6], [{ axis: 0, start: 0, end: 2 }, { axis: 1, start: 1, end: 4 }, { axis: 0, start: 2, end: 4 }], {}, 2);
  });

  it('a single slice, and a leaf sliced directly (its grad filled at the end)', async () => {
    await check([3, 4], [{ axis: 1, start: 1, end: 3 }], {}, 1);
    await check([3, 6, 2], [{ axis: 1, start: 0, end: 3 }, { axis: 1, start: 3, end: 6 }], { leaf: true }, 1);
  });

  it('retainGraph: a second backward over the same graph adds the same gradient again', async () => {
    await check([2, 6, 3], [{ axis: 1, start: 0, end: 2 }, { axis: 1, start: 2, end: 6 }], { retainTwice: true }, 2);
    await check([2, 6], [{ axis: 1, start: 0, end: 3 }, { axis: 1, start: 3, end: 6 }], { leaf: true, retainTwice: true }, 2);
  });

  it('an observer reading a slice visit gets the padded gradient, and the result is unchanged', async () => {
    const x = Tensor.fromArray(randoms(12), [3, 4]).setRequiresGrad();
    const y = scale(x, 1);
    const loss = add(sum(scale(slice(y, 1, 0, 2), 2)), sum(scale(slice(y, 1, 2, 4), 3)));
    const seen: Tensor[] = [];
    const start = live();
    backward(loss, {
      onNode: (visit: NodeVisit) => {
        if (visit.node.op !== 'slice') return;
        expect(visit.foldedPriors).toEqual([null]);
        seen.push(visit.inputGrads[0]!.savedAlias());
      },
    });
    const padded = await Promise.all(seen.map(async (t) => Array.from(await t.toArray())));
    expect(padded.sort((a, b) => a[0]! - b[0]!)).toEqual([
      [0, 0, 3, 3, 0, 0, 3, 3, 0, 0, 3, 3],
      [2, 2, 0, 0, 2, 2, 0, 0, 2, 2, 0, 0],
    ]);
    expect(Array.from(await x.grad!.toArray())).toEqual([2, 2, 3, 3, 2, 2, 3, 3, 2, 2, 3, 3]);
    for (const t of [x, y, loss, ...seen]) t.dispose();
    expect(live()).toBeLessThanOrEqual(start);
  });

  it('three full-shape contributions: one dispatch, no add', async () => {
    const x = Tensor.fromArray(randoms(10), [2, 5]).setRequiresGrad();
    const cs = [randoms(10), randoms(10), randoms(10)];
    const consts = cs.map((c) => Tensor.fromArray(c, [2, 5]));
    const loss = tidy(() => {
      const y = scale(x, 1);
      return add(add(sum(mul(y, consts[0]!)), sum(mul(consts[1]!, y))), sum(mul(y, consts[2]!)));
    });
    const meter = startMeter(runtime(), { byKernel: true });
    backward(loss);
    meter.stop();
    const count = (prefix: string): number => meter.kernels().filter((k) => k.key.startsWith(prefix)).reduce((n, k) => n + k.dispatches, 0);
    expect([count('windowSum/'), count('elementwise/add')]).toEqual([1, 0]);
    expectClose(Array.from(await x.grad!.toArray()), cs[0]!.map((v, i) => v + cs[1]![i]! + cs[2]![i]!), { rtol: 1e-6, atol: 1e-6 });
    for (const t of [x, loss, ...consts]) t.dispose();
  });

  it('a slice used twice passes both gradients on as windows: one dispatch for the pair and the padding', async () => {
    const x = Tensor.fromArray(randoms(12), [3, 4]).setRequiresGrad();
    const [c1, c2] = [randoms(6), randoms(6)];
    const consts = [Tensor.fromArray(c1, [3, 2]), Tensor.fromArray(c2, [3, 2])];
    const loss = tidy(() => {
      const s = slice(scale(x, 1), 1, 1, 3);
      return add(sum(mul(s, consts[0]!)), sum(mul(s, consts[1]!)));
    });
    const meter = startMeter(runtime(), { byKernel: true });
    backward(loss);
    meter.stop();
    const count = (prefix: string): number => meter.kernels().filter((k) => k.key.startsWith(prefix)).reduce((n, k) => n + k.dispatches, 0);
    expect([count('windowSum/'), count('elementwise/add')]).toEqual([1, 0]);
    const expected = Array.from({ length: 12 }, (_, i) => {
      const [r, c] = [Math.floor(i / 4), i % 4];
      return c >= 1 && c < 3 ? c1[r * 2 + c - 1]! + c2[r * 2 + c - 1]! : 0;
    });
    expectClose(Array.from(await x.grad!.toArray()), expected, { rtol: 1e-6, atol: 1e-6 });
    for (const t of [x, loss, ...consts]) t.dispose();
  });

  it('a slice whose graph an earlier backward freed is refused, as any node', async () => {
    const x = Tensor.fromArray(randoms(6), [2, 3]).setRequiresGrad();
    const y = slice(x, 1, 0, 2);
    const a = sum(y);
    const b = sum(scale(y, 2));
    backward(a);
    expect(() => backward(b)).toThrow(/backward through 'slice' after its graph was freed/);
    for (const t of [x, y, a, b]) t.dispose();
  });

  it('windowSum moves four elements at a time when the last axis allows it (q/k/v from attention layout), and matches the host', async () => {
    // [B, T, 3H, D] assembled along axis 2 from three [B, H, T, D] gradients viewed as [B, T, H, D]
    // (the attention backward's layout), with and without an addend; and a last axis of 6, which
    // cannot go four at a time, for the same result through the scalar kernel.
    for (const [B, T, H, D, addend] of [[2, 5, 3, 8, false], [1, 7, 2, 4, true], [2, 3, 2, 6, true]] as const) {
      const shape = [B, T, 3 * H, D];
      const grads = [0, 1, 2].map(() => Tensor.fromArray(randoms(B * H * T * D), [B, H, T, D]));
      const views = grads.map((g) => permute(g, [0, 2, 1, 3]));
      const prior = addend ? Tensor.fromArray(randoms(numel(shape)), shape) : null;
      const keys: string[] = [];
      const stop = runtime().onDispatch((launch) => keys.push(launch.key));
      const out = wrap(windowSum(shape, 2, views.map((v, k) => ({ g: v, start: k * H, step: 1 })), prior));
      stop();
      expect(keys.some((key) => key.split('/').includes('v4'))).toBe(D % 4 === 0);
      const host = await Promise.all(grads.map(async (g) => Array.from(await g.toArray())));
      const p = prior ? Array.from(await prior.toArray()) : null;
      const expected: number[] = [];
      for (let b = 0; b < B; b++)
        for (let t = 0; t < T; t++)
          for (let c = 0; c < 3 * H; c++)
            for (let d = 0; d < D; d++) {
              const [k, h] = [Math.floor(c / H), c % H];
              const i = expected.length;
              expected.push(host[k]![((b * H + h) * T + t) * D + d]! + (p ? p[i]! : 0));
            }
      // Each element is one window's value (plus the addend): exact, not merely close.
      expect(Array.from(await out.toArray())).toEqual(Array.from(new Float32Array(expected)));
      for (const t of [out, ...views, ...grads, ...(prior ? [prior] : [])]) t.dispose();
    }
  });

  it('windowSum writes the shape but the axis into its kernel: shapes that differ there get kernels of their own, the axis and outer dim a parameter', async () => {
    // Same rank, axis, windows and vec4 layout. A kernel reused across shapes that differ in a
    // written dim would place the second's values wrongly; [2, 5, 4, 8] and [4, 5, 6, 8] reuse the
    // first's kernel (the axis's length and the outermost dim are parameters), as a growing
    // key/value cache concatenated along its sequence axis does.
    const cases = [
      { shape: [2, 5, 6, 8], key: '*x5x*x2' },
      { shape: [3, 2, 6, 8], key: '*x2x*x2' },
      { shape: [2, 5, 6, 12], key: '*x5x*x3' },
      { shape: [2, 5, 4, 8], key: '*x5x*x2' },
      { shape: [4, 5, 6, 8], key: '*x5x*x2' },
    ];
    for (const { shape, key } of cases) {
      const [B, T, C, D] = shape as [number, number, number, number];
      const half = C / 2;
      const parts = [0, 1].map(() => Tensor.fromArray(randoms(B * T * half * D), [B, T, half, D]));
      const keys: string[] = [];
      const stop = runtime().onDispatch((launch) => keys.push(launch.key));
      const out = wrap(windowSum(shape, 2, parts.map((g, k) => ({ g, start: half * k, step: 1 })), null));
      stop();
      expect(keys).toEqual([`windowSum/r4/a2/w2/v4/s1/${key}`]);
      const host = await Promise.all(parts.map(async (g) => Array.from(await g.toArray())));
      const expected = Array.from({ length: numel(shape) }, (_, i) => {
        const [d, c, bt] = [i % D, Math.floor(i / D) % C, Math.floor(i / (C * D))];
        return host[Math.floor(c / half)]![(bt * half + (c % half)) * D + d]!;
      });
      expect(Array.from(await out.toArray())).toEqual(Array.from(new Float32Array(expected)));
      for (const t of [out, ...parts]) t.dispose();
    }
  });

  it('windowSum batches windows beyond the adapter’s storage bindings', async () => {
    const limit = runtime().limits.maxStorageBuffersPerShaderStage;
    const count = Math.min(limit, 40); // at least one more than a dispatch reads
    const shape = [2, count];
    const parts = Array.from({ length: count }, (_, k) => Tensor.fromArray([k + 1, -(k + 1)], [2, 1]));
    const addend = Tensor.fromArray(randoms(2 * count), shape);
    const out = wrap(windowSum(shape, 1, parts.map((g, k) => ({ g, start: k, step: 1 })), addend));
    const a = Array.from(await addend.toArray());
    const expected = a.map((v, i) => v + (i < count ? i + 1 : -(i - count + 1)));
    expectClose(Array.from(await out.toArray()), expected, { rtol: 1e-6, atol: 1e-6 });
    for (const t of [out, addend, ...parts]) t.dispose();
  });
});

/** normScaleDetachedRule handed a context without `takeAccumulatedGrad`: the sweep adds. */
const unfoldedNorm: BackwardRule = {
  name: 'norm-scale-detached (unfolded)',
  backward: (ctx, g) => {
    const { takeAccumulatedGrad: _omit, ...rest } = ctx as BackwardContext & { takeAccumulatedGrad?: unknown };
    return normScaleDetachedRule.backward(rest as BackwardContext<never>, g);
  },
};

describe('gradients folded into a backward’s own kernel', () => {
  it('normScaleDetachedGrad with an addend writes addend + gradient', async () => {
    const [rows, n] = [5, 24];
    const x = Tensor.fromArray(randoms(rows * n), [rows, n]);
    const g = Tensor.fromArray(randoms(rows * n), [rows, n]);
    const w = Tensor.fromArray(randoms(n), [n]);
    const prior = Tensor.fromArray(randoms(rows * n), [rows, n]);
    for (const center of [true, false]) {
      const plain = wrap(normScaleDetachedGrad(x, g, { center, eps: 1e-5, weight: w }));
      const folded = wrap(normScaleDetachedGrad(x, g, { center, eps: 1e-5, weight: w, addend: prior }));
      const p = Array.from(await prior.toArray());
      const expected = Array.from(await plain.toArray()).map((v, i) => v + p[i]!);
      expectClose(Array.from(await folded.toArray()), expected, { rtol: 1e-6, atol: 1e-6 }, center ? 'layer' : 'rms');
      plain.dispose();
      folded.dispose();
    }
    for (const t of [x, g, w, prior]) t.dispose();
  });

  it('a residual block h = x + f(LN(x)) under the norm rule: same gradient folded or not, no add', async () => {
    const [T, C] = [3, 16];
    const data = randoms(T * C);
    const w = Tensor.fromArray(randoms(C).map((v) => 1 + 0.5 * v), [C]);
    const b = Tensor.fromArray(randoms(C), [C]);
    const c = Tensor.fromArray(randoms(T * C), [T, C]);
    const results: { grad: number[]; adds: number }[] = [];
    for (const rule of [normScaleDetachedRule, unfoldedNorm]) {
      const x = Tensor.fromArray(data, [T, C]).setRequiresGrad();
      const h = withBackwardRules({ layerNorm: rule as BackwardRule }, () => add(x, tanh(layerNorm(x, w, b))));
      const loss = sum(mul(h, c));
      const meter = startMeter(runtime(), { byKernel: true });
      backward(loss);
      meter.stop();
      const adds = meter.kernels().filter((k) => k.key.startsWith('elementwise/add')).reduce((s, k) => s + k.dispatches, 0);
      results.push({ grad: Array.from(await x.grad!.toArray()), adds });
      for (const t of [x, h, loss]) t.dispose();
    }
    c.dispose();
    expectClose(results[0]!.grad, results[1]!.grad, { rtol: 1e-6, atol: 1e-6 }, 'folded vs added');
    expect(results.map((r) => r.adds)).toEqual([0, 1]);
    w.dispose();
    b.dispose();
  });

  it('the ledger books only what a folding node passed itself', async () => {
    // y = x + r(x) with r = 5·x whose rule passes 2·g: r loses Σ 3 x ⊙ g, however its gradient is formed.
    const folding: BackwardRule = {
      name: 'twice (folding)',
      backward: (ctx, g) => {
        const prior = ctx.takeAccumulatedGrad?.(0) ?? null;
        const own = scale(g, 2);
        return [prior ? add(own, prior) : own];
      },
    };
    const plain: BackwardRule = { name: 'twice', backward: (_ctx, g) => [scale(g, 2)] };
    const xs = randoms(6);
    const cs = randoms(6);
    const expectedLoss = xs.reduce((s, v, i) => s + 3 * v * cs[i]!, 0);
    for (const rule of [folding, plain]) {
      const x = Tensor.fromArray(xs, [6]).setRequiresGrad();
      const c = Tensor.fromArray(cs, [6]);
      const loss = sum(mul(add(x, withBackwardRules({ affine: rule }, () => scale(x, 5))), c));
      const ledger = new LedgerRecorder(new Set(), new Map());
      let priors = 0;
      backward(loss, {
        onNode: (visit) => {
          ledger.onNode(visit);
          priors += visit.foldedPriors.filter(Boolean).length;
        },
      });
      const losses = await ledger.read();
      expect(priors).toBe(rule === folding ? 1 : 0);
      // The affine node is the only one measured (mul by a constant is a product of one variable).
      expect(losses.otherOps).toBeCloseTo(expectedLoss, 5);
      expectClose(Array.from(await x.grad!.toArray()), cs.map((v) => 3 * v), { rtol: 1e-6, atol: 1e-6 });
      ledger.dispose();
      for (const t of [x, c, loss]) t.dispose();
    }
  });
});

describe('relevance summed where a rule’s kernel reads it', () => {
  it('the ε-rule’s kernel sums a linear layer’s output relevance: the ledger books it, with no dot product of its own', async () => {
    const [rows, inputs, outputs, eps] = [74, 100, 300, 0.01];
    const [xs, ws, bs, cs] = [randoms(rows * inputs), randoms(outputs * inputs), randoms(outputs), randoms(rows * outputs)];
    for (const fused of [true, false]) {
      const x = Tensor.fromArray(xs, [rows, inputs]).setRequiresGrad();
      const w = Tensor.fromArray(ws, [outputs, inputs]);
      const b = Tensor.fromArray(bs, [outputs]).setRequiresGrad();
      const c = Tensor.fromArray(cs, [rows, outputs]);
      const y = withBackwardRules({ linear: epsilonRule(eps) }, () => linear(x, w, b));
      const loss = sum(mul(y, c));
      const ledger = new LedgerRecorder(new Set(), new Map());
      const keys: string[] = [];
      const stop = runtime().onDispatch((launch) => keys.push(launch.key));
      const sweep = (): void => backward(loss, { onNode: ledger.onNode });
      if (fused) withDotBatch(ledger.batch, sweep);
      else sweep();
      const losses = await ledger.read();
      stop();
      // Only the linear node is measured (the mul by a constant and the sum conserve): y ⊙ ĝ from
      // the ε-rule's kernel where fused, x ⊙ g_x and b ⊙ g_b as dot products.
      expect(keys.some((k) => k.startsWith('elementwise-colsum/') && k.includes('"inputDots":"yes"'))).toBe(fused);
      expect(keys.filter((k) => k.startsWith('dots/')).map((k) => k.split('/')[1])).toEqual([fused ? 'p2' : 'p3']);
      const [yv, gx, gb] = await Promise.all([y.toArray(), x.grad!.toArray(), b.grad!.toArray()]);
      // In float64 from the same float32 tensors; each total is rounded in float32 on the GPU, so
      // the tolerance scales with the totals whose difference the loss is (as in lrp-ledger.test.ts).
      const terms = [0, 0, 0];
      for (let i = 0; i < yv.length; i++) terms[0]! += yv[i]! * cs[i]!;
      for (let i = 0; i < gx.length; i++) terms[1]! += xs[i]! * gx[i]!;
      for (let j = 0; j < outputs; j++) terms[2]! += bs[j]! * gb[j]!;
      const expected = terms[0]! - terms[1]! - terms[2]!;
      const scale = terms.reduce((t, v) => t + Math.abs(v), 0);
      expect(Math.abs(expected)).toBeGreaterThan(1e-3 * scale); // ε absorbs something measurable
      expect(Math.abs(losses.stabilizers - expected)).toBeLessThan(2e-6 * scale);
      ledger.dispose();
      for (const t of [x, w, b, c, y, loss]) t.dispose();
    }
  });
});

describe('dispatches of an explanation’s backward (tiny GPT-2 fixture)', () => {
  it('issues no elementwise add for the residual stream or q/k/v', async () => {
    const model = await loadModel(modelDir('gpt2'));
    try {
      const input = referenceInput('gpt2');
      await explain(model, input, { method: 'pa-lrp' }); // warm
      const start = live();
      // Adds recorded while the sweep runs (the forward's residual adds are not counted).
      let adds = 0;
      let windowSums = 0;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 100;
      const stop = runtime().onDispatch((launch) => {
        if (!(new Error().stack ?? '').includes('autograd/backward.')) return;
        if (launch.key.startsWith('elementwise/add')) adds++;
        if (launch.key.startsWith('windowSum/')) windowSums++;
      });
      try {
        await explain(model, input, { method: 'pa-lrp' });
      } finally {
        stop();
        Error.stackTraceLimit = limit;
      }
      expect(adds).toBe(0);
      expect(windowSums).toBe(model.info.layers + 1); // fused q/k/v per layer, and the last position's logits
      expect(live()).toBe(start);
    } finally {
      model.dispose();
    }
  });
});
