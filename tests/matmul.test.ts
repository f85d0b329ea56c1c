import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { Tensor, attentionContext, attentionScores, linear, matmul, reshape, slice, sum, transpose } from '../autograd/index.js';
import { gradcheck, type GradcheckCase } from '../autograd/gradcheck.js';
import { wrap } from '../autograd/ops/wrap.js';
import { MATMUL_VARIANTS, PACKED_MIN_PACKED_ROWS, PACKED_MIN_ROWS, matmul as matmulKernel, packedOperand, pickMatmulVariant, planMatmul, resultStrides, type MatmulVariant } from '../kernels/matmul.js';
import { refLinear, refMatmul, refTransposeLast } from '../kernels/reference/matmul.js';
import { refTensor, type RefTensor } from '../kernels/reference/tensor.js';
import { numel } from '../kernels/shape.js';
import { runtime } from '../kernels/runtime.js';
import { backward } from '../autograd/backward.js';

beforeAll(async () => {
  await gpu();
});

/** Every tile shape the template is tested with: the two picked per adapter and the other switches. */
const VARIANTS: Record<string, MatmulVariant> = {
  ...MATMUL_VARIANTS,
  'registers, scalar loads': { ...MATMUL_VARIANTS.software, vec4: false },
  'registers, 3×4 tile, 2×8 workgroup': { rows: 3, cols: 4, wgRows: 2, wgCols: 8, vec4: true, sharedK: 0 },
  'shared, scalar loads': { ...MATMUL_VARIANTS.hardware, vec4: false },
  'shared, 1×4 tile, 4×8 workgroup, depth 8': { rows: 1, cols: 4, wgRows: 4, wgCols: 8, vec4: true, sharedK: 8 },
};

interface Operand {
  /** Shape of the operand as the product sees it. */
  shape: number[];
  /** Stored with the last two dims swapped and passed as a transposed view. */
  transposed?: boolean;
  /** Stored with this many extra leading elements and passed as a view at that offset. */
  offset?: number;
}

interface Case {
  a: Operand;
  b: Operand;
}

const random = rng(11);

/** A GPU view with the operand's layout and the same values as a float64 reference. */
function operand(op: Operand): { view: Tensor; ref: RefTensor; owned: Tensor[] } {
  const shape = op.shape;
  const stored = op.transposed ? [...shape.slice(0, -2), shape[shape.length - 1]!, shape[shape.length - 2]!] : shape;
  const n = numel(stored);
  const lead = op.offset ?? 0;
  const data = randomArray(n + lead, random);
  const base = Tensor.fromArray(data, [n + lead]);
  const flat = lead > 0 ? slice(base, 0, lead) : base;
  const storedT = flat.size === n ? reshapeView(flat, stored) : flat;
  const view = op.transposed ? transpose(storedT) : storedT;
  const storedRef = refTensor(stored, data.subarray(lead));
  return { view, ref: op.transposed ? refTransposeLast(storedRef) : storedRef, owned: [base, flat, storedT, view] };
}

/** A reshape that keeps the slice's offset (the slice of a 1-D tensor is contiguous). */
function reshapeView(x: Tensor, shape: number[]): Tensor {
  x.storage.retain();
  return new Tensor(x.storage, shape, x.dtype, undefined, x.offset);
}

async function check(c: Case, variant: MatmulVariant, label: string, packed?: 'a' | 'b', packAlong?: 'n' | 'k'): Promise<void> {
  const a = operand(c.a);
  const b = operand(c.b);
  const y = wrap(matmulKernel(a.view, b.view, { variant, packed, packAlong }));
  const expected = refMatmul(a.ref, b.ref);
  expect(y.shape, `${label} shape`).toEqual(expected.shape);
  const K = c.a.shape[c.a.shape.length - 1]!;
  expectClose(await y.toArray(), expected.data, { rtol: 1e-4, atol: 1e-5 * Math.max(K, 1) }, label);
  for (const t of [...a.owned, ...b.owned, y]) t.dispose();
}

const shapeCases: Record<string, Case> = {
  '1×1·1×1': { a: { shape: [1, 1] }, b: { shape: [1, 1] } },
  'odd 5×7·7×3': { a: { shape: [5, 7] }, b: { shape: [7, 3] } },
  'A batched, B shared (rows folded)': { a: { shape: [2, 3, 17, 9] }, b: { shape: [9, 13] } },
  'B batched, A shared': { a: { shape: [17, 9] }, b: { shape: [4, 9, 13] } },
  'both broadcast [2,1]·[1,3], vec4-aligned': { a: { shape: [2, 1, 8, 12] }, b: { shape: [1, 3, 12, 16] } },
  'M = 1 rows over a batch': { a: { shape: [6, 1, 8] }, b: { shape: [8, 20] } },
  'transposed A view (M contiguous)': { a: { shape: [2, 16, 12], transposed: true }, b: { shape: [12, 24] } },
  'transposed B view: x · Wᵀ': { a: { shape: [3, 8, 32] }, b: { shape: [32, 20], transposed: true } },
  'both transposed, odd sizes': { a: { shape: [5, 11], transposed: true }, b: { shape: [11, 6], transposed: true } },
  'views at odd offsets': { a: { shape: [9, 12], offset: 3 }, b: { shape: [12, 8], offset: 1 } },
  'views at aligned offsets': { a: { shape: [9, 12], offset: 4 }, b: { shape: [12, 8], offset: 8 } },
  'K = 0 gives zeros': { a: { shape: [3, 0] }, b: { shape: [0, 4] } },
  'empty M': { a: { shape: [0, 4] }, b: { shape: [4, 5] } },
  'empty batch': { a: { shape: [2, 0, 3, 4] }, b: { shape: [4, 5] } },
};

describe('matmul kernel matches the float64 reference', () => {
  // Every case runs on the variant this machine's adapter picks for full-size products, most on the
  // GPU one; the other variants (forced, so both adapters' paths are tested on any machine) run the
  // cases that reach each operand layout. Pipeline compiles dominate this file's time on lavapipe.
  const layoutCases = ['odd 5×7·7×3', 'B batched, A shared', 'transposed A view (M contiguous)', 'transposed B view: x · Wᵀ'];
  const caseLists: Record<string, string[]> = {
    software: Object.keys(shapeCases),
    // K = 0 has nothing to pack: planning refuses it for a forced packed variant (tested below).
    softwarePacked: Object.keys(shapeCases).filter((label) => label !== 'K = 0 gives zeros'),
    hardware: [...layoutCases, 'both broadcast [2,1]·[1,3], vec4-aligned', 'M = 1 rows over a batch', 'views at odd offsets', 'K = 0 gives zeros'],
  };
  for (const [name, variant] of Object.entries(VARIANTS)) {
    const cases = caseLists[name] ?? layoutCases;
    it(`variant ${name}: ${cases.length} cases`, async () => {
      for (const label of cases) await check(shapeCases[label]!, variant, `${name} / ${label}`);
    });
  }

  // Texels along N or along K (the default picks K for an operand contiguous along K): both are
  // forced on every case, so each orientation meets every stride pattern.
  for (const packed of ['a', 'b'] as const)
    for (const along of ['n', 'k'] as const) {
      it(`the packed variant with ${packed.toUpperCase()} packed (forced), texels along ${along.toUpperCase()}: ${caseLists.softwarePacked!.length} cases`, async () => {
        for (const label of caseLists.softwarePacked!) await check(shapeCases[label]!, MATMUL_VARIANTS.softwarePacked, `packed ${packed} along ${along} / ${label}`, packed, along);
      });
    }

  it('the packed cases above pack with each of the three read layouts, batched and not', (ctx) => {
    if (runtime().adapterInfo.subgroupSize === null) ctx.skip();
    const packKeys = runtime().pipelines.keys().filter((key) => key.startsWith('packTexture/'));
    for (const layout of ['n4', 'k4', 'scalar']) {
      expect(packKeys.filter((key) => key.startsWith(`packTexture/${layout}/b0`)), layout).not.toHaveLength(0);
      expect(packKeys.filter((key) => key.startsWith(`packTexture/${layout}/`) && !key.endsWith('/b0')), `${layout}, batched`).not.toHaveLength(0);
    }
  });

  it('a large product 300×257 · 257×513 with every full-size variant', async () => {
    for (const variant of [MATMUL_VARIANTS.software, MATMUL_VARIANTS.softwarePacked, MATMUL_VARIANTS.hardware]) {
      await check({ a: { shape: [300, 257] }, b: { shape: [257, 513] } }, variant, `large ${JSON.stringify(variant)}`);
    }
  });

  it('a large transposed-B product, as in x · Wᵀ of a 768-wide layer', async () => {
    await check({ a: { shape: [2, 37, 768] }, b: { shape: [768, 300], transposed: true } }, pickMatmulVariant({ isSoftware: true }), 'x·Wᵀ');
    await check({ a: { shape: [2, 37, 768] }, b: { shape: [768, 300], transposed: true } }, MATMUL_VARIANTS.softwarePacked, 'x·Wᵀ, x packed', 'a');
    await check({ a: { shape: [2, 37, 768] }, b: { shape: [768, 300], transposed: true } }, MATMUL_VARIANTS.softwarePacked, 'x·Wᵀ, Wᵀ packed', 'b');
  });

  it('the cases above read each operand in all four layouts, on both paths', () => {
    for (const variant of [MATMUL_VARIANTS.software, MATMUL_VARIANTS.hardware]) {
      const seenA = new Set<string>();
      const seenB = new Set<string>();
      for (const c of Object.values(shapeCases)) {
        const a = operand(c.a);
        const b = operand(c.b);
        const plan = planMatmul(a.view, b.view, { variant });
        seenA.add(plan.layoutA);
        seenB.add(plan.layoutB);
        for (const t of [...a.owned, ...b.owned]) t.dispose();
      }
      expect([...seenA].sort(), `A layouts, sharedK ${variant.sharedK}`).toEqual(['k', 'k4', 'mn', 'mn4']);
      expect([...seenB].sort(), `B layouts, sharedK ${variant.sharedK}`).toEqual(['k', 'k4', 'mn', 'mn4']);
    }
  });

  it('reads Wᵀ in place with vec4 loads and folds x\'s batch dims into rows', () => {
    const x = operand({ shape: [2, 37, 768] });
    const w = operand({ shape: [768, 300], transposed: true });
    const plan = planMatmul(x.view, w.view, { variant: MATMUL_VARIANTS.software });
    expect(plan.layoutB).toBe('k4');
    expect(plan.layoutA).toBe('k4');
    expect([plan.M, plan.batch.length]).toEqual([74, 0]);
    for (const t of [...x.owned, ...w.owned]) t.dispose();
  });

  it('picks the register path on CPU adapters, shared-memory tiles on GPUs, narrow tiles for few rows', () => {
    const cpu = { isSoftware: true };
    const gpuAdapter = { isSoftware: false };
    expect(pickMatmulVariant(cpu)).toBe(MATMUL_VARIANTS.software);
    expect(pickMatmulVariant(cpu, 3)).toBe(MATMUL_VARIANTS.softwareFewRows);
    expect(pickMatmulVariant(cpu, 1)).toBe(MATMUL_VARIANTS.softwareOneRow);
    expect(pickMatmulVariant(gpuAdapter)).toBe(MATMUL_VARIANTS.hardware);
    expect(pickMatmulVariant(gpuAdapter, 1)).toBe(MATMUL_VARIANTS.hardwareOneRow);
    expect(MATMUL_VARIANTS.software.sharedK).toBe(0);
    expect(MATMUL_VARIANTS.hardware.sharedK).toBeGreaterThan(0);
  });

  it('packs B on CPU adapters with fixed-size subgroups once there are PACKED_MIN_ROWS rows', () => {
    const lanes8 = { isSoftware: true, subgroupSize: 8 };
    expect(pickMatmulVariant(lanes8)).toBe(MATMUL_VARIANTS.softwarePacked);
    expect(pickMatmulVariant(lanes8, PACKED_MIN_ROWS, 1)).toBe(MATMUL_VARIANTS.softwarePacked);
    expect(pickMatmulVariant(lanes8, PACKED_MIN_ROWS - 1, PACKED_MIN_ROWS - 1)).toBe(MATMUL_VARIANTS.software);
    // Few rows but many columns: A is the one packed.
    expect(pickMatmulVariant(lanes8, PACKED_MIN_PACKED_ROWS, PACKED_MIN_ROWS)).toBe(MATMUL_VARIANTS.softwarePacked);
    expect(pickMatmulVariant(lanes8, PACKED_MIN_PACKED_ROWS - 1, 4096)).toBe(MATMUL_VARIANTS.software);
    expect([packedOperand(PACKED_MIN_PACKED_ROWS, 3072), packedOperand(3072, 768), packedOperand(1024, 1024), packedOperand(4096, PACKED_MIN_ROWS - 1)]).toEqual(['a', 'b', 'b', 'b']);
    expect(pickMatmulVariant({ isSoftware: true, subgroupSize: null })).toBe(MATMUL_VARIANTS.software);
    // lavapipe with 16-lane vectors reads wrong texels in lanes 8-15: the buffer path there.
    expect(pickMatmulVariant({ isSoftware: true, subgroupSize: 16 })).toBe(MATMUL_VARIANTS.software);
    expect(pickMatmulVariant({ isSoftware: false, subgroupSize: 32 })).toBe(MATMUL_VARIANTS.hardware);
  });

  it('uses the packed variant for large products on this adapter when it has fixed-size subgroups', (ctx) => {
    const info = runtime().adapterInfo;
    if (!info.isSoftware || info.subgroupSize === null) ctx.skip();
    const tall = operand({ shape: [513, 257] });
    const wide = operand({ shape: [257, 300] });
    const packB = planMatmul(tall.view, wide.view);
    expect([packB.variant.textureB, packB.layoutA, packB.layoutB]).toEqual([true, 'k', 'packed']);
    // x · Wᵀ with fewer tokens than outputs packs x and reads W's rows with vec4 loads.
    const x = operand({ shape: [2, 37, 768] });
    const w = operand({ shape: [768, 300], transposed: true });
    const packA = planMatmul(x.view, w.view);
    expect([packA.variant.textureB, packA.layoutA, packA.layoutB]).toEqual([true, 'packed', 'k4']);
    expect(planMatmul(x.view, w.view, { packAlong: 'k' }).layoutA).toBe('packedK');
    for (const t of [...tall.owned, ...wide.owned, ...x.owned, ...w.owned]) t.dispose();
  });

  it('falls back from the packed variant when B does not fit a texture, and refuses to force it', () => {
    if (runtime().adapterInfo.subgroupSize === null) return; // the packed variant cannot run here at all
    const tooDeep = runtime().limits.maxTextureDimension2D + 1;
    const a = Tensor.fromArray(new Float32Array(PACKED_MIN_ROWS * tooDeep), [PACKED_MIN_ROWS, tooDeep]);
    const b = Tensor.fromArray(new Float32Array(tooDeep * 4), [tooDeep, 4]);
    expect(planMatmul(a, b).variant.textureB ?? false).toBe(false);
    expect(() => planMatmul(a, b, { variant: MATMUL_VARIANTS.softwarePacked })).toThrow(/matmul: shapes .* texture limits/);
    const emptyK = [Tensor.fromArray(new Float32Array(0), [PACKED_MIN_ROWS, 0]), Tensor.fromArray(new Float32Array(0), [0, 8])] as const;
    expect(planMatmul(emptyK[0], emptyK[1]).variant.textureB ?? false).toBe(false);
    expect(() => planMatmul(emptyK[0], emptyK[1], { variant: MATMUL_VARIANTS.softwarePacked })).toThrow(/texture limits/);
    for (const t of [a, b, ...emptyK]) t.dispose();
  });

  it('refuses a broadcast-A variant whose workgroup is not one subgroup', () => {
    const a = Tensor.fromArray(new Float32Array(64), [8, 8]);
    const wrongWidth = { ...MATMUL_VARIANTS.softwarePacked, wgCols: (runtime().adapterInfo.subgroupSize ?? 8) * 2 };
    expect(() => planMatmul(a, a, { variant: wrongWidth })).toThrow(/subgroup/);
    a.dispose();
  });

  it('reuses its packing textures: a repeated product creates none and holds none afterwards', async (ctx) => {
    if (runtime().adapterInfo.subgroupSize === null) ctx.skip();
    const a = operand({ shape: [3, 70, 20] });
    const b = operand({ shape: [3, 20, 36] });
    const run = (): void => wrap(matmulKernel(a.view, b.view, { variant: MATMUL_VARIANTS.softwarePacked })).dispose();
    run();
    await runtime().sync();
    const before = runtime().textures.snapshot();
    for (let i = 0; i < 5; i++) run();
    await runtime().sync();
    const after = runtime().textures.snapshot();
    expect(after.created).toBe(before.created);
    expect(after.liveBytes).toBe(0);
    expect(after.idleBytes).toBeGreaterThan(0);
    for (const t of [...a.owned, ...b.owned]) t.dispose();
  });

  it('reads a broadcast operand contiguous along M as vec4s of rows (a weight in s·W), with K tails and row edges', async (ctx) => {
    if (runtime().adapterInfo.subgroupSize === null) ctx.skip();
    // s [T, out] · W [out, in] packs s and computes Cᵀ = Wᵀ·sᵀ, Wᵀ read broadcast: rows contiguous.
    const cases: [number[], number[], string][] = [
      [[40, 36], [36, 68], 'mn4'], // M' = 68 rows of Wᵀ (not a whole tile), K = 36
      [[40, 39], [39, 72], 'mn4'], // K = 39: a 1-step tail after the 4-step loop
      [[40, 36], [36, 66], 'k'], // 66 rows: not whole vectors, scalar loads
    ];
    for (const [aShape, bShape, layout] of cases) {
      const a = operand({ shape: aShape });
      const b = operand({ shape: bShape });
      const plan = planMatmul(a.view, b.view, { variant: MATMUL_VARIANTS.softwarePacked, packed: 'a' });
      expect(plan.layoutB, `${aShape}·${bShape}`).toBe(layout);
      for (const t of [...a.owned, ...b.owned]) t.dispose();
      await check({ a: { shape: aShape }, b: { shape: bShape } }, MATMUL_VARIANTS.softwarePacked, `broadcast ${layout} ${aShape}·${bShape}`, 'a');
    }
  });

  it('plans a one-row product (after folding batch dims) with the one-row tile', () => {
    const x = operand({ shape: [1, 1, 64] });
    const w = operand({ shape: [64, 40], transposed: true });
    const plan = planMatmul(x.view, w.view);
    expect(plan.M).toBe(1);
    expect(plan.variant).toBe(pickMatmulVariant(runtime().adapterInfo, 1));
    for (const t of [...x.owned, ...w.owned]) t.dispose();
  });

  it('fuses alpha and a (strided) bias', async () => {
    const a = operand({ shape: [2, 5, 8] });
    const b = operand({ shape: [8, 12], transposed: true });
    const biasData = randomArray(24, random);
    const biasBase = Tensor.fromArray(biasData, [12, 2]);
    const bias = slice(transpose(biasBase), 0, 1); // [1, 12] with stride 2
    const bias1 = new Tensor(bias.storage, [12], 'f32', [2], bias.offset);
    bias.storage.retain();
    const runs: [MatmulVariant, 'a' | 'b' | undefined][] = [
      [MATMUL_VARIANTS.software, undefined],
      [MATMUL_VARIANTS.softwarePacked, 'a'],
      [MATMUL_VARIANTS.softwarePacked, 'b'],
      [MATMUL_VARIANTS.hardware, undefined],
    ];
    for (const [variant, packed] of runs) {
      const y = wrap(matmulKernel(a.view, b.view, { variant, packed, alpha: 0.5, bias: bias1 }));
      const ref = refMatmul(a.ref, b.ref, 0.5, refTensor([12], Array.from({ length: 12 }, (_, i) => biasData[2 * i + 1]!)));
      expectClose(await y.toArray(), ref.data, { rtol: 1e-5, atol: 1e-5 }, `alpha + bias, ${JSON.stringify(variant)} ${packed ?? ''}`);
      y.dispose();
    }
  });
});

describe('matmul stores its result in a requested memory order', () => {
  // Attention stores p·v [B, Hkv, G, T, D] as [B, T, Hkv, G, D] so that merging heads is a view.
  const orderCases: { label: string; a: number[]; b: number[]; order: number[] }[] = [
    { label: 'grouped heads [2,3,2,5,8]·[2,3,1,8,12] as [B,T,Hkv,G,D]', a: [2, 3, 2, 5, 8], b: [2, 3, 1, 8, 12], order: [0, 3, 1, 2, 4] },
    { label: 'heads [1,4,70,33]·[1,4,33,64] as [B,T,H,D] (packed sizes)', a: [1, 4, 70, 33], b: [1, 4, 33, 64], order: [0, 2, 1, 3] },
    { label: 'one row per head [3,4,1,16]·[3,4,16,8]', a: [3, 4, 1, 16], b: [3, 4, 16, 8], order: [0, 2, 1, 3] },
    { label: 'batch-major kept [2,5,6]·[6,7]', a: [2, 5, 6], b: [6, 7], order: [1, 0, 2] },
  ];
  const runs: [string, MatmulVariant, 'a' | 'b' | undefined][] = [
    ['software', MATMUL_VARIANTS.software, undefined],
    ['packed A (Cᵀ stored)', MATMUL_VARIANTS.softwarePacked, 'a'],
    ['packed B', MATMUL_VARIANTS.softwarePacked, 'b'],
    ['hardware', MATMUL_VARIANTS.hardware, undefined],
  ];
  for (const c of orderCases)
    it(c.label, async () => {
      const a = operand({ shape: c.a });
      const b = operand({ shape: c.b });
      const expected = refMatmul(a.ref, b.ref);
      for (const [name, variant, packed] of runs) {
        const y = wrap(matmulKernel(a.view, b.view, { variant, packed, memoryOrder: c.order }));
        expect(y.shape).toEqual(expected.shape);
        expect(y.strides, name).toEqual(resultStrides(expected.shape, c.order));
        expectClose(await y.toArray(), expected.data, { rtol: 1e-4, atol: 1e-4 }, `${c.label} / ${name}`);
        y.dispose();
      }
      for (const t of [...a.owned, ...b.owned]) t.dispose();
    });

  it('refuses an order that is not a permutation ending with the last dim', () => {
    const a = operand({ shape: [2, 3, 4] });
    const b = operand({ shape: [4, 5] });
    expect(() => matmulKernel(a.view, b.view, { memoryOrder: [0, 2, 1] })).toThrow(/memoryOrder \[0, 2, 1\]/);
    expect(() => matmulKernel(a.view, b.view, { memoryOrder: [1, 1, 2] })).toThrow(/not a permutation/);
    for (const t of [...a.owned, ...b.owned]) t.dispose();
  });

  it('attentionContext with a memory order: same values and gradients, merged heads are a view', async () => {
    const p = Tensor.fromArray(randomArray(2 * 3 * 5 * 5, random), [2, 3, 5, 5]).setRequiresGrad();
    const v = Tensor.fromArray(randomArray(2 * 3 * 5 * 4, random), [2, 3, 5, 4]).setRequiresGrad();
    const plain = attentionContext(p, v);
    const ordered = attentionContext(p, v, [0, 2, 1, 3]);
    expectClose(await ordered.toArray(), await plain.toArray(), { rtol: 0, atol: 0 }, 'values');
    const merged = reshape(transpose(ordered, 1, 2), [2, 5, 12]);
    expect(merged.storage).toBe(ordered.storage); // no copy
    const seed = Tensor.fromArray(randomArray(2 * 5 * 12, random), [2, 5, 12]);
    backward(merged, { seed });
    const [gp, gv] = [await p.grad!.toArray(), await v.grad!.toArray()];
    p.grad!.dispose();
    v.grad!.dispose();
    p.grad = null;
    v.grad = null;
    backward(reshape(transpose(plain, 1, 2), [2, 5, 12]), { seed });
    expectClose(gp, await p.grad!.toArray(), { rtol: 1e-6, atol: 1e-6 }, 'grad p');
    expectClose(gv, await v.grad!.toArray(), { rtol: 1e-6, atol: 1e-6 }, 'grad v');
    for (const t of [p, v, plain, ordered, merged, seed, p.grad!, v.grad!]) t.dispose();
  });
});

describe('matmul refuses bad shapes, naming the op and both shapes', () => {
  it('inner dimensions, batch dims, rank', () => {
    const a = Tensor.fromArray(new Float32Array(6), [2, 3]);
    const b = Tensor.fromArray(new Float32Array(20), [4, 5]);
    expect(() => matmul(a, b)).toThrow(/matmul: shapes \[2, 3\] and \[4, 5\]/);
    const c = Tensor.fromArray(new Float32Array(24), [2, 3, 4]);
    const d = Tensor.fromArray(new Float32Array(60), [3, 4, 5]);
    expect(() => matmul(c, d)).toThrow(/matmul: shapes \[2, 3, 4\] and \[3, 4, 5\].*batch/);
    const v = Tensor.fromArray(new Float32Array(3), [3]);
    expect(() => matmul(v, a)).toThrow(/matmul: shapes \[3\] and \[2, 3\]/);
    expect(() => linear(a, b)).toThrow(/linear: shapes \[2, 3\] and weight \[4, 5\]/);
    expect(() => attentionScores(c, d, 1)).toThrow(/attentionScores: shapes \[2, 3, 4\] and \[3, 4, 5\]/);
    expect(() => attentionContext(c, c)).toThrow(/attentionContext: shapes \[2, 3, 4\] and \[2, 3, 4\]/);
  });
});

describe('gradients of matmul, linear, attentionScores and attentionContext', () => {
  const cases: GradcheckCase[] = [
    {
      name: 'matmul with broadcast batch dims',
      inputs: [{ shape: [2, 1, 3, 5] }, { shape: [3, 5, 4] }],
      gpu: ([a, b]) => matmul(a!, b!),
      ref: ([a, b]) => refMatmul(a!, b!),
    },
    {
      name: 'matmul with an unbatched right operand',
      inputs: [{ shape: [2, 3, 5] }, { shape: [5, 4] }],
      gpu: ([a, b]) => matmul(a!, b!),
      ref: ([a, b]) => refMatmul(a!, b!),
    },
    {
      name: 'matmul of a transposed view',
      inputs: [{ shape: [6, 4] }, { shape: [6, 3] }],
      gpu: ([a, b]) => matmul(transpose(a!), b!),
      ref: ([a, b]) => refMatmul(refTransposeLast(a!), b!),
    },
    {
      name: 'linear with bias',
      inputs: [{ shape: [2, 3, 8] }, { shape: [5, 8] }, { shape: [5] }],
      gpu: ([x, w, b]) => linear(x!, w!, b!),
      ref: ([x, w, b]) => refLinear(x!, w!, b!),
    },
    {
      name: 'linear without bias, 1-D input',
      inputs: [{ shape: [7] }, { shape: [4, 7] }],
      gpu: ([x, w]) => linear(x!, w!),
      ref: ([x, w]) => refLinear(x!, w!),
    },
    {
      name: 'attentionScores, grouped-query broadcast of k',
      inputs: [{ shape: [1, 2, 2, 3, 4] }, { shape: [1, 2, 1, 5, 4] }],
      gpu: ([q, k]) => attentionScores(q!, k!, 0.5),
      ref: ([q, k]) => refMatmul(q!, refTransposeLast(k!), 0.5),
    },
    {
      name: 'attentionContext, grouped-query broadcast of v',
      inputs: [{ shape: [1, 2, 2, 3, 5], lo: 0, hi: 1 }, { shape: [1, 2, 1, 5, 4] }],
      gpu: ([p, v]) => attentionContext(p!, v!),
      ref: ([p, v]) => refMatmul(p!, v!),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const report = await gradcheck(c);
      expect(report.forwardError, `${c.name} forward`).toBeLessThan(1e-5);
      expect(report.ok, `${c.name}: ${JSON.stringify(report.worst)}`).toBe(true);
    });
  }

  it('linear backward sums the weight gradient over every leading dim', async () => {
    // y = x·Wᵀ with g = 1: gW[o, i] = Σ_rows x[row, i], gb[o] = rows.
    const x = Tensor.fromArray(randomArray(2 * 3 * 4, random), [2, 3, 4]);
    const w = Tensor.fromArray(randomArray(5 * 4, random), [5, 4]).setRequiresGrad();
    const b = Tensor.fromArray(new Float32Array(5), [5]).setRequiresGrad();
    backward(sum(linear(x, w, b)));
    const xs = await x.toArray();
    const colSums = Array.from({ length: 4 }, (_, i) => Array.from({ length: 6 }, (_, r) => xs[r * 4 + i]!).reduce((s, v) => s + v, 0));
    expectClose(await w.grad!.toArray(), Array.from({ length: 20 }, (_, k) => colSums[k % 4]!), { rtol: 1e-5, atol: 1e-5 }, 'gW');
    expectClose(await b.grad!.toArray(), new Array(5).fill(6), {}, 'gb');
  });
});
