/**
 * Seeded random numbers from a counter-based generator: element k of a tensor is a pure function
 * of (seed, k), so results are reproducible and independent of how the dispatch is tiled.
 *
 * The generator is Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011): counter (k, 0, 0, 0), key (seed low 32 bits, seed high bits). WGSL has no 32×32→64
 * multiply, so the high word is assembled from 16-bit halves.
 */
import { runtime } from './runtime.js';
import { numel } from './shape.js';
import { allocate, f32Bits, type KernelOutput } from './view.js';
import { flatEntry, header, paramF32, workgroupsFor } from './wgsl/common.js';
import { templateLaunch } from './wgsl/specKey.js';

export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;
export const PHILOX_ROUNDS = 10;

const PHILOX_WGSL = `fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  // (high, low) words of the 64-bit product a·b.
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let lh = a0 * b1; let hl = a1 * b0;
  let mid = ((a0 * b0) >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return vec2<u32>(a1 * b1 + (lh >> 16u) + (hl >> 16u) + (mid >> 16u), a * b);
}

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var r = 0u; r < ${PHILOX_ROUNDS}u; r++) {
    let p0 = mulhilo(${PHILOX_M0}u, c.x);
    let p1 = mulhilo(${PHILOX_M1}u, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2<u32>(${PHILOX_W0}u, ${PHILOX_W1}u);
  }
  return c;
}

// 24 random bits to an f32 in [0, 1), exactly.
fn unit(x: u32) -> f32 { return f32(x >> 8u) * ${2 ** -24}; }`;

export type Distribution = 'uniform' | 'normal';

/**
 * Per distribution: WGSL computing \`out[i]\` from \`r\` (the four Philox words) and scalars s0, s1.
 * uniform: s0 + (s1 - s0)·u, capped at s2 (the largest f32 below the upper bound) so it stays < hi.
 * normal: Box–Muller on u1 ∈ (0, 1] and u2 ∈ [0, 1), mean s0, standard deviation s1.
 */
const DISTRIBUTIONS: Record<Distribution, string> = {
  uniform: 'min(s0 + (s1 - s0) * unit(r.x), s2)',
  normal: `s0 + s1 * sqrt(-2.0 * log(unit(r.x) + ${2 ** -24})) * cos(${2 * Math.PI} * unit(r.y))`,
};

/** Parameter layout: n, key0, key1, s0, s1, s2 (f32). */
function randomWgsl(dist: Distribution): string {
  const body = [
    '  if (i >= p[0]) { return; }',
    '  let r = philox(vec4<u32>(i, 0u, 0u, 0u), vec2<u32>(p[1], p[2]));',
    `  let s0 = ${paramF32(3)}; let s1 = ${paramF32(4)}; let s2 = ${paramF32(5)};`,
    `  out[i] = ${DISTRIBUTIONS[dist]};`,
  ].join('\n');
  return [header([{ name: 'out', access: 'read_write', type: 'f32' }]), PHILOX_WGSL, flatEntry(body)].join('\n\n');
}

/** The Philox key words of a seed (a non-negative safe integer). */
export function seedKey(seed: number, op = 'random'): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`${op}: the seed must be a non-negative safe integer, got ${seed}`);
  return [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0];
}

/** The largest f32 strictly below `x` (x a finite f32). */
export function f32Below(x: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, x, true);
  const bits = buf.getUint32(0, true);
  if (x === 0) return -(2 ** -149);
  buf.setUint32(0, x > 0 ? bits - 1 : bits + 1, true);
  return buf.getFloat32(0, true);
}

/** f32 tensor of `shape`, uniform in [lo, hi) (lo < hi) or normal(mean = a, std = b). */
export function random(dist: Distribution, shape: readonly number[], seed: number, a: number, b: number): KernelOutput {
  const op = dist === 'uniform' ? 'randomUniform' : 'randomNormal';
  const [k0, k1] = seedKey(seed, op);
  if (dist === 'uniform' && !(Math.fround(a) < Math.fround(b))) throw new Error(`${op}: needs lo < hi, got [${a}, ${b})`);
  if (dist === 'normal' && !(b >= 0)) throw new Error(`${op}: the standard deviation must be ≥ 0, got ${b}`);
  const out = allocate(op, shape, 'f32');
  const n = numel(shape);
  const cap = dist === 'uniform' ? f32Below(Math.fround(b)) : 0;
  runtime().dispatch({
    ...templateLaunch('random', { dist }, (s) => randomWgsl(s.dist)),
    bindings: [out],
    params: new Uint32Array([n, k0, k1, f32Bits(a), f32Bits(b), f32Bits(cap)]),
    workgroups: workgroupsFor(n),
  });
  return { buffer: out, shape: [...shape], dtype: 'f32' };
}
