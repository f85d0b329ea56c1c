/**
 * Products that read 16-bit operands (weights stored as F16/BF16) as stored: every reader the
 * kernel can pick (buffer layouts k4 / mn4 / scalar for A, for B and for a broadcast A, the packing
 * into a texture, the shared-memory path's widened copy) must give bit for bit what the same
 * product gives on f32 operands holding the widened values.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { bf16Value, bitsOf, f16Value } from './helpers/bits.js';
import { rng } from './helpers/close.js';
import { Tensor } from '../autograd/tensor.js';
import { slice, transpose } from '../autograd/index.js';
import { wrap } from '../autograd/ops/wrap.js';
import { MATMUL_VARIANTS, matmul as matmulKernel, planMatmul, type MatmulOptions } from '../kernels/matmul.js';
import { numel } from '../kernels/shape.js';
import { runtime } from '../kernels/runtime.js';
import type { HalfDType } from '../kernels/view.js';

beforeAll(async () => {
  await gpu();
});

const random = rng(5);

/** The value stored bits mean, computed without the kernels. */
const widened = (bits: number, dtype: HalfDType): number => (dtype === 'bf16' ? bf16Value(bits) : f16Value(bits));

/** Random finite 16-bit values of moderate size (exponents near 1), some subnormal-free negatives. */
function randomBits(n: number, dtype: HalfDType): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const sign = random() < 0.5 ? 0x8000 : 0;
    out[i] = dtype === 'bf16' ? sign | ((0x3e + Math.floor(random() * 2)) << 7) | Math.floor(random() * 0x100) : sign | ((13 + Math.floor(random() * 3)) << 10) | Math.floor(random() * 0x400);
  }
  return out;
}

interface Operand {
  shape: number[];
  transposed?: boolean;
  offset?: number;
}

/** The same stored values as a 16-bit tensor and as an f32 tensor, both viewed as `op` says. */
function pair(op: Operand, dtype: HalfDType): { half: Tensor; full: Tensor; owned: Tensor[] } {
  const r = op.shape.length;
  const stored = op.transposed ? [...op.shape.slice(0, -2), op.shape[r - 1]!, op.shape[r - 2]!] : op.shape;
  const lead = op.offset ?? 0;
  const bits = randomBits(numel(stored) + lead, dtype);
  const values = Float32Array.from(bits, (b) => widened(b, dtype));
  const owned: Tensor[] = [];
  const viewOf = (base: Tensor): Tensor => {
    owned.push(base);
    let t = base;
    if (lead > 0) {
      t = slice(base, 0, lead);
      owned.push(t);
    }
    t.storage.retain();
    const shaped = new Tensor(t.storage, stored, t.dtype, undefined, t.offset);
    owned.push(shaped);
    if (!op.transposed) return shaped;
    const view = transpose(shaped);
    owned.push(view);
    return view;
  };
  return { half: viewOf(Tensor.fromHalfBits(bits, [bits.length], dtype)), full: viewOf(Tensor.fromArray(values, [values.length])), owned };
}


interface Case {
  label: string;
  a: Operand;
  b: Operand;
  /** Which operand is 16-bit. */
  half: 'a' | 'b' | 'both';
  options: MatmulOptions;
  /** The layouts the plan must pick, so each reader is reached. */
  expect?: { layoutA?: string; layoutB?: string };
}

const packed = MATMUL_VARIANTS.softwarePacked;
const cases: Case[] = [
  // x·Wᵀ with x packed: the weight is the broadcast operand, contiguous along K (k4).
  { label: 'x·Wᵀ, W broadcast along K', a: { shape: [40, 36] }, b: { shape: [36, 72], transposed: true }, half: 'b', options: { variant: packed, packed: 'a' }, expect: { layoutB: 'k4' } },
  // s·W with s packed: the weight is the broadcast operand, contiguous along M (mn4), K tail.
  { label: 's·W, W broadcast along M', a: { shape: [40, 39] }, b: { shape: [39, 72] }, half: 'b', options: { variant: packed, packed: 'a' }, expect: { layoutB: 'mn4' } },
  { label: 'broadcast, scalar loads', a: { shape: [40, 36] }, b: { shape: [36, 66] }, half: 'b', options: { variant: packed, packed: 'a' }, expect: { layoutB: 'k' } },
  // Long sequences: the weight is packed into the texture (n4, k4, scalar packing).
  { label: 'weight packed, n4', a: { shape: [70, 36] }, b: { shape: [36, 24] }, half: 'b', options: { variant: packed, packed: 'b' } },
  { label: 'weight packed, k4 (Wᵀ)', a: { shape: [70, 36] }, b: { shape: [36, 24], transposed: true }, half: 'b', options: { variant: packed, packed: 'b' } },
  { label: 'weight packed, scalar (odd offset)', a: { shape: [70, 35] }, b: { shape: [35, 23], offset: 1 }, half: 'b', options: { variant: packed, packed: 'b' } },
  // One row (an LM head on the last position): B read directly.
  { label: 'one row, Wᵀ direct (k4)', a: { shape: [1, 64] }, b: { shape: [64, 40], transposed: true }, half: 'b', options: {}, expect: { layoutB: 'k4' } },
  { label: 'one row, W direct (mn4)', a: { shape: [1, 64] }, b: { shape: [64, 40] }, half: 'b', options: {}, expect: { layoutB: 'mn4' } },
  { label: 'direct scalar B, odd sizes, both 16-bit', a: { shape: [5, 7] }, b: { shape: [7, 3] }, half: 'both', options: { variant: MATMUL_VARIANTS.software } },
  { label: 'direct A along K and along M', a: { shape: [2, 16, 12], transposed: true }, b: { shape: [12, 24] }, half: 'both', options: { variant: MATMUL_VARIANTS.software } },
  { label: 'embedding as A (k4)', a: { shape: [3, 8, 32] }, b: { shape: [32, 20] }, half: 'a', options: { variant: MATMUL_VARIANTS.software }, expect: { layoutA: 'k4' } },
  // The shared-memory path (GPUs) widens a copy first.
  { label: 'shared-memory path', a: { shape: [33, 20] }, b: { shape: [20, 40], transposed: true }, half: 'both', options: { variant: MATMUL_VARIANTS.hardware } },
];

describe('matmul reads 16-bit operands as stored, bit-identical to f32 operands with the widened values', () => {
  for (const dtype of ['bf16', 'f16'] as const)
    for (const c of cases)
      it(`${dtype}: ${c.label}`, async (ctx) => {
        if (c.options.variant === packed && runtime().adapterInfo.subgroupSize !== 8) ctx.skip();
        const a = pair(c.a, dtype);
        const b = pair(c.b, dtype);
        const ha = c.half === 'b' ? a.full : a.half;
        const hb = c.half === 'a' ? b.full : b.half;
        if (c.expect) {
          const plan = planMatmul(ha, hb, c.options);
          if (c.expect.layoutA) expect(plan.layoutA).toBe(c.expect.layoutA);
          if (c.expect.layoutB) expect(plan.layoutB).toBe(c.expect.layoutB);
        }
        const y16 = wrap(matmulKernel(ha, hb, c.options));
        const y32 = wrap(matmulKernel(a.full, b.full, c.options));
        expect(bitsOf(await y16.toArray())).toEqual(bitsOf(await y32.toArray()));
        for (const t of [...a.owned, ...b.owned, y16, y32]) t.dispose();
      });

  it('the cases above reached the 16-bit readers and packings, not a widened copy', () => {
    const keys = runtime().pipelines.keys();
    for (const dtype of ['bf16', 'f16']) {
      expect(keys.some((k) => k.startsWith('matmul/') && k.includes(`"dtypeA":"${dtype}"`)), `A ${dtype}`).toBe(true);
      expect(keys.some((k) => k.startsWith('matmul/') && k.includes(`"dtypeB":"${dtype}"`)), `B ${dtype}`).toBe(true);
      if (runtime().adapterInfo.subgroupSize === 8) for (const layout of ['n4', 'k4', 'scalar']) expect(keys, `${layout} ${dtype}`).toContain(`packTexture/${layout}/b0/${dtype}`);
    }
  });

  it('leaves no buffer or texture behind (the shared path frees its widened copies)', async () => {
    await runtime().sync();
    const before = runtime().pool.snapshot().liveBytes;
    const a = pair({ shape: [33, 20] }, 'bf16');
    const b = pair({ shape: [20, 40], transposed: true }, 'bf16');
    const y = wrap(matmulKernel(a.half, b.half, { variant: MATMUL_VARIANTS.hardware }));
    for (const t of [...a.owned, ...b.owned, y]) t.dispose();
    await runtime().sync();
    expect(runtime().pool.snapshot().liveBytes).toBe(before);
  });
});
