/**
 * The fused kernels against their float64 references: batched dot products (the ledger's and the
 * report's relevance totals), the rules' elementwise chains, the softmax VJP, the detached-scale
 * norm gradient, the slice backward's padding; and reshape views of strided tensors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { Tensor, permute, reshape, slice, transpose } from '../autograd/index.js';
import { wrap } from '../autograd/ops/wrap.js';
import { dotPairLimit, dotPartials, dotSlotCount, DOT_CHUNK } from '../kernels/dots.js';
import { elementwise, elementwiseWithColumnSums, FUSED_ELEMENTWISE, type FusedElementwise } from '../kernels/elementwise.js';
import { normScaleDetachedGrad } from '../kernels/norm.js';
import { padWindow } from '../kernels/pad.js';
import { softmaxBackwardRows, softmaxRows } from '../kernels/softmax.js';
import { refNormScaleDetachedGrad } from '../kernels/reference/norm.js';
import { refPadWindow } from '../kernels/reference/pad.js';
import { refSoftmaxBackward } from '../kernels/reference/softmax.js';
import { refPermute, refTensor } from '../kernels/reference/tensor.js';
import { runtime } from '../kernels/runtime.js';
import { DotBatch } from '../lrp/dotBatch.js';

beforeAll(async () => {
  await gpu();
});

const random = rng(11);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

describe('batched dot products', () => {
  it('dotPartials: pairs of any size and layout in one dispatch, partial sums per chunk', async () => {
    const sizes = [1, 5, DOT_CHUNK, DOT_CHUNK + 1, 3 * DOT_CHUNK + 17];
    const data = sizes.map((n) => [randomArray(n, random), randomArray(n, random)] as const);
    const tensors = data.map(([a, b]) => [Tensor.fromArray(a, [a.length]), Tensor.fromArray(b, [b.length])] as const);
    // A transposed view and an empty pair too.
    const m = randomArray(6 * 7, random);
    const n = randomArray(7 * 6, random);
    const mt = Tensor.fromArray(m, [6, 7]);
    const nt = Tensor.fromArray(n, [7, 6]);
    const empty = Tensor.fromArray([], [0]);
    const pairs = [...tensors.map(([a, b]) => ({ a, b })), { a: mt, b: transpose(nt) }, { a: empty, b: empty }];
    const total = pairs.reduce((s, p) => s + dotSlotCount(p.a.size), 0);
    const out = Tensor.fromArray(new Float32Array(total + 3), [total + 3]);
    const slots = dotPartials(pairs, out.buffer, 3);
    const partials = await out.toArray();
    const expected = [
      ...data.map(([a, b]) => dot(a, b)),
      // Σ m[i][j] · nᵀ[i][j] = Σ m[i][j] · n[j][i]
      Array.from({ length: 42 }, (_, k) => m[k]! * n[(k % 7) * 6 + Math.floor(k / 7)]!).reduce((s, v) => s + v, 0),
      0,
    ];
    slots.forEach((s, k) => {
      let got = 0;
      for (let i = 0; i < s.count; i++) got += partials[3 + s.first + i]!;
      expect(got, `pair ${k}`).toBeCloseTo(expected[k]!, 3);
    });
    expect(slots.map((s) => s.count)).toEqual([1, 1, 1, 2, 4, 1, 0].map((chunks) => chunks * dotSlotCount(1)));
    for (const t of [...tensors.flat(), mt, nt, empty, out]) t.dispose();
  });

  it('dotPartials reads vec4s when every pair is contiguous at offsets and lengths of whole vec4s, and scalars otherwise', async () => {
    const base = randomArray(3 * DOT_CHUNK + 40, random);
    const other = randomArray(3 * DOT_CHUNK + 40, random);
    const [x, y] = [Tensor.fromArray(base, [base.length]), Tensor.fromArray(other, [other.length])];
    // [start, length] windows of x and y: whole vec4s in the first set, one odd offset in the second.
    for (const [windows, quads] of [
      [[[0, 4], [8, DOT_CHUNK], [4, 3 * DOT_CHUNK + 12]], true],
      [[[0, 4], [2, 8]], false],
    ] as const) {
      const views = windows.map(([start, n]) => [slice(x, 0, start, start + n), slice(y, 0, start + 4, start + 4 + n)] as const);
      const pairs = views.map(([a, b]) => ({ a, b }));
      const total = pairs.reduce((t, q) => t + dotSlotCount(q.a.size), 0);
      const out = Tensor.fromArray(new Float32Array(total), [total]);
      const keys: string[] = [];
      const stop = runtime().onDispatch((launch) => keys.push(launch.key));
      const slots = dotPartials(pairs, out.buffer, 0);
      stop();
      expect(keys).toEqual([`dots/p${pairs.length}${quads ? '/v4' : ''}`]);
      // Reading vec4s, a workgroup takes four times the chunk: fewer slots than dotSlotCount allows.
      expect(slots.map((q) => q.count)).toEqual(quads ? [1, 1, 1] : [1, 1]);
      const partials = await out.toArray();
      slots.forEach((s, k) => {
        const [start, n] = windows[k]!;
        let got = 0;
        for (let i = 0; i < s.count; i++) got += partials[s.first + i]!;
        expect(got, `pair ${k}`).toBeCloseTo(dot(base.subarray(start, start + n), other.subarray(start + 4, start + 4 + n)), 3);
      });
      for (const t of [...views.flat(), out]) t.dispose();
    }
    x.dispose();
    y.dispose();
  });

  it('DotBatch: more pairs than one dispatch takes, read back in one go, nothing left behind', async () => {
    const before = runtime().memory().liveBytes;
    const batch = new DotBatch();
    const count = 2 * dotPairLimit() + 3;
    const arrays = Array.from({ length: count }, (_, k) => randomArray(100 + k, random));
    const tensors = arrays.map((a) => Tensor.fromArray(a, [a.length]));
    const dispatches = runtime().counters().dispatches;
    // Each tensor with itself and two of its slices with each other: one buffer per tensor.
    const ids: number[] = [];
    const sliced: number[] = [];
    for (const t of tensors) {
      ids.push(batch.add(t, t));
      const [a, b] = [slice(t, 0, 1, 51), slice(t, 0, 50, 100)];
      sliced.push(batch.add(a, b));
      a.dispose();
      b.dispose();
    }
    for (const t of tensors) t.dispose();
    const values = await batch.read();
    ids.forEach((id, k) => expect(values[id]).toBeCloseTo(dot(arrays[k]!, arrays[k]!), 3));
    sliced.forEach((id, k) => expect(values[id]).toBeCloseTo(dot(arrays[k]!.subarray(1, 51), arrays[k]!.subarray(50, 100)), 3));
    // 2·count pairs: ceil(2·count / limit) dispatches (as mul + sum: 4·count).
    expect(runtime().counters().dispatches - dispatches).toBe(Math.ceil((2 * count) / dotPairLimit()));
    expect(runtime().memory().liveBytes).toBe(before);
  });
});

describe('DotBatch: a pair queued twice', () => {
  it('is summed once (either order, other handles on the same views), while other views of the same data are not merged', async () => {
    const before = runtime().memory().liveBytes;
    const batch = new DotBatch();
    const [a, b] = [randomArray(64, random), randomArray(64, random)];
    const [ta, tb] = [Tensor.fromArray(a, [8, 8]), Tensor.fromArray(b, [8, 8])];
    const dispatches = runtime().counters().dispatches;
    const first = batch.add(ta, tb);
    const aliases = [ta.savedAlias(), tb.savedAlias()];
    const again = [batch.add(tb, ta), batch.add(aliases[0]!, aliases[1]!)];
    // Same storages, other geometry: each its own sum.
    const [ra, rb] = [reshape(ta, [64]), reshape(tb, [64])];
    const [tta, ttb] = [transpose(ta), transpose(tb)];
    const [sa, sb] = [slice(ta, 0, 0, 4), slice(tb, 0, 4, 8)];
    const others = [batch.add(ra, rb), batch.add(tta, tb), batch.add(tta, ttb), batch.add(sa, sb), batch.add(ta, ta)];
    for (const t of [ta, tb, ...aliases, ra, rb, tta, ttb, sa, sb]) t.dispose();
    const values = await batch.read();
    expect(again).toEqual([first, first]);
    expect(new Set([first, ...others]).size).toBe(6);
    const at = (m: ArrayLike<number>, r: number, c: number): number => m[r * 8 + c]!;
    const transposedDot = Array.from({ length: 64 }, (_, k) => at(a, k % 8, Math.floor(k / 8)) * b[k]!).reduce((s, v) => s + v, 0);
    expect(values[first]).toBeCloseTo(dot(a, b), 4);
    expect(values[others[0]!]).toBeCloseTo(dot(a, b), 4);
    expect(values[others[1]!]).toBeCloseTo(transposedDot, 4);
    expect(values[others[2]!]).toBeCloseTo(dot(a, b), 4);
    expect(values[others[3]!]).toBeCloseTo(dot(a.subarray(0, 32), b.subarray(32, 64)), 4);
    expect(values[others[4]!]).toBeCloseTo(dot(a, a), 4);
    // Six sums in one dispatch where seven would fit: the repeats took no slot of their own.
    expect(runtime().counters().dispatches - dispatches).toBe(Math.ceil(6 / dotPairLimit()));
    expect(runtime().memory().liveBytes).toBe(before);
  });
});

describe('fused elementwise chains', () => {
  const cases: Record<FusedElementwise, { lo: number; hi: number; scalar: number }> = {
    epsilonScale: { lo: -2, hi: 2, scalar: 0.01 },
    identityRatio: { lo: -2, hi: 2, scalar: 1e-12 },
    mulScaled: { lo: -2, hi: 2, scalar: 0.5 },
  };
  for (const op of Object.keys(cases) as FusedElementwise[]) {
    it(`${op} matches its reference, exact zeros included`, async () => {
      const { lo, hi, scalar } = cases[op];
      const def = FUSED_ELEMENTWISE[op];
      // 1000: read as vec4s; 999: one element per invocation.
      for (const n of [1000, 999]) {
        const inputs = Array.from({ length: def.arity }, () => randomArray(n, random, lo, hi));
        inputs[def.arity - 1]![0] = 0; // the stabilised denominator at 0
        const ts = inputs.map((a) => Tensor.fromArray(a, [n]));
        const out = wrap(elementwise(op, ts, [scalar]));
        const expected = Array.from({ length: n }, (_, i) => def.ref(inputs.map((a) => a[i]!), [scalar]));
        expectClose(await out.toArray(), expected, { rtol: 1e-5, atol: 1e-6 }, `${op}, ${n} elements`);
        for (const t of [...ts, out]) t.dispose();
      }
    });
  }
});

describe('elementwise kernels with column sums', () => {
  it('epsilonScale over [rows, cols] views (one transposed) and its column sums, as the separate kernels give', async () => {
    const [rows, cols] = [37, 300];
    const gData = randomArray(rows * cols, random);
    const zData = randomArray(cols * rows, random);
    zData[5] = 0;
    const g = Tensor.fromArray(gData, [rows, cols]);
    const zBase = Tensor.fromArray(zData, [cols, rows]);
    const z = transpose(zBase);
    const eps = 0.05;
    const { values, sums } = elementwiseWithColumnSums('epsilonScale', [g, z], [eps]);
    const [v, s] = [wrap(values), wrap(sums)];
    const ref = FUSED_ELEMENTWISE.epsilonScale.ref;
    const expected = Array.from({ length: rows * cols }, (_, i) => ref([gData[i]!, zData[(i % cols) * rows + Math.floor(i / cols)]!], [eps]));
    const expectedSums = Array.from({ length: cols }, (_, j) => Array.from({ length: rows }, (_, r) => expected[r * cols + j]!).reduce((a, b) => a + b, 0));
    expectClose(await v.toArray(), expected, { rtol: 1e-5, atol: 1e-6 }, 'values');
    expectClose(await s.toArray(), expectedSums, { rtol: 1e-4, atol: 1e-5 }, 'column sums');
    for (const t of [g, zBase, z, v, s]) t.dispose();
  });
});

describe('row kernels of the backward', () => {
  it('softmaxBackwardRows = s ⊙ (g − Σ s ⊙ g), g strided', async () => {
    const shape = [3, 5, 70];
    const x = Tensor.fromArray(randomArray(3 * 5 * 70, random, -4, 4), shape);
    const s = wrap(softmaxRows(x));
    const gData = randomArray(3 * 70 * 5, random);
    const gBase = Tensor.fromArray(gData, [3, 70, 5]);
    const g = transpose(gBase); // [3, 5, 70], not contiguous
    const out = wrap(softmaxBackwardRows(s, g));
    const ref = refSoftmaxBackward(refTensor(shape, await s.toArray()), refPermute(refTensor([3, 70, 5], gData), [0, 2, 1]));
    expectClose(await out.toArray(), ref.data, { rtol: 1e-4, atol: 1e-7 }, 'softmax VJP');
    for (const t of [x, s, gBase, g, out]) t.dispose();
  });

  for (const center of [true, false]) {
    for (const withWeight of [true, false]) {
      it(`normScaleDetachedGrad (${center ? 'LayerNorm' : 'RMSNorm'}, ${withWeight ? 'with' : 'no'} weight) matches the reference`, async () => {
        const [rows, n] = [7, 300];
        const xData = randomArray(rows * n, random, 3, 5); // off-centre rows: the mean matters
        const gData = randomArray(rows * n, random);
        const wData = randomArray(2 * n, random, 0.5, 1.5);
        const x = Tensor.fromArray(xData, [rows, n]);
        const g = Tensor.fromArray(gData, [rows, n]);
        const wBase = Tensor.fromArray(wData, [2 * n]);
        const w = slice(wBase, 0, 0, 2 * n, 2); // strided weight
        const out = wrap(normScaleDetachedGrad(x, g, { center, eps: 1e-5, weight: withWeight ? w : null }));
        const wRef = withWeight ? refTensor([n], Array.from({ length: n }, (_, j) => wData[2 * j]!)) : null;
        const ref = refNormScaleDetachedGrad(refTensor([rows, n], xData), refTensor([rows, n], gData), wRef, center, 1e-5);
        expectClose(await out.toArray(), ref.data, { rtol: 2e-4, atol: 2e-5 }, 'norm gradient');
        for (const t of [x, g, wBase, w, out]) t.dispose();
      });
    }
  }
});

describe('slice backward and reshape views', () => {
  it('padWindow puts a strided g into its window (step 2, middle axis) and zeros elsewhere', async () => {
    const shape = [2, 9, 3];
    const gData = randomArray(2 * 3 * 4, random);
    const gBase = Tensor.fromArray(gData, [2, 3, 4]);
    const g = permute(gBase, [0, 2, 1]); // [2, 4, 3], strided
    const out = wrap(padWindow(g, shape, { axis: 1, start: 1, step: 2 }));
    const ref = refPadWindow(refPermute(refTensor([2, 3, 4], gData), [0, 2, 1]), shape, 1, 1, 2);
    expectClose(await out.toArray(), ref.data, { rtol: 0, atol: 0 }, 'pad');
    expect(ref.data.filter((v) => v !== 0).length).toBe(24);
    for (const t of [gBase, g, out]) t.dispose();
  });

  it('q, k, v sliced from a fused projection reshape to heads without a copy', async () => {
    const [T, H, D] = [3, 2, 4];
    const data = randomArray(T * 3 * H * D, random);
    const fused = Tensor.fromArray(data, [1, T, 3 * H * D]);
    const k = slice(fused, -1, H * D, 2 * H * D);
    const dispatches = runtime().counters().dispatches;
    const heads = reshape(k, [1, T, H, D]);
    expect(runtime().counters().dispatches).toBe(dispatches);
    expect(heads.storage).toBe(fused.storage);
    const expected = Array.from({ length: T * H * D }, (_, i) => data[Math.floor(i / (H * D)) * 3 * H * D + H * D + (i % (H * D))]!);
    expectClose(await heads.toArray(), expected, { rtol: 0, atol: 0 }, 'k heads');
    // Merging a permuted view's dims cannot be a view: that still copies.
    const merged = reshape(permute(heads, [0, 2, 1, 3]), [1, H, T * D]);
    expect(merged.storage).not.toBe(fused.storage);
    for (const t of [fused, k, heads, merged]) t.dispose();
  });
});
