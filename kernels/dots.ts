/**
 * Many dot products Σ a ⊙ b in one dispatch. The LRP layer measures relevance as sums of
 * x ⊙ ĝ_x over whole tensors: per graph node for the conservation ledger, per tap and bias for
 * the report. Each was a `mul` and a `sum` (two dispatches, and a read per value); here any
 * number of pairs, up to `dotPairLimit()`, go in one dispatch.
 *
 * Each pair (same shape, any strides) is cut into chunks of `DOT_CHUNK` elements (four times as
 * many when every pair can be read as vec4s); workgroup w reduces one chunk (pairwise across its invocations) and writes its partial sum to
 * `out[outOffset + w]`. The caller adds a pair's partials (in float64, on the host, after one
 * read of the whole partials buffer). One pipeline
 * per pair count serves every batch.
 */
import { runtime } from './runtime.js';
import { coalesce, numel, sameShape, shapeToString } from './shape.js';
import type { GpuView } from './view.js';
import { header, type BindingDecl } from './wgsl/common.js';

/**
 * Invocations per workgroup: 64, as the row kernels use on lavapipe, where every barrier switches
 * all of a workgroup's invocations in turn (softmax.ts).
 */
const WG = 64;
/** Elements one workgroup reduces: 64 per invocation. */
export const DOT_CHUNK = WG * 64;
/**
 * Elements one workgroup reduces when it reads vec4s: 64 vec4s per invocation, so each lane adds
 * as many terms as in the scalar kernel and a quarter of the workgroups pay the barrier tree.
 */
const QUAD_CHUNK = 4 * DOT_CHUNK;
/** Pair ranks after coalescing are padded to this; a pair with more dims is refused. */
export const DOT_MAX_RANK = 4;
/** Parameter words per pair: n, first workgroup, two unused, offsets of a and b, shape, strides of a and b. */
const PAIR_WORDS = 6 + 3 * DOT_MAX_RANK;
/** Words before the first pair: pair count, output offset. */
const HEAD_WORDS = 2;

/** One dot product Σ a ⊙ b; `a` and `b` have the same shape. */
export interface DotPair {
  a: GpuView;
  b: GpuView;
}

/** Where a pair's partial sums are: `count` consecutive slots from `first` (relative to `outOffset`). */
export interface DotSlots {
  first: number;
  count: number;
}

/**
 * Pairs one dispatch may take: each pair has two bindings of its own, within the device's
 * storage-binding limit less the parameter block and the output (7 on lavapipe, 3 at WebGPU's
 * default of 8).
 */
export function dotPairLimit(): number {
  return Math.max(1, Math.floor((runtime().limits.maxStorageBuffersPerShaderStage - 2) / 2));
}

/** Partial-sum slots `dotPartials` may write for a pair of `n` elements (it returns how many it did: fewer when it reads vec4s). */
export function dotSlotCount(n: number): number {
  return Math.ceil(n / DOT_CHUNK);
}

/**
 * Pair k reads bindings in(2k) and in(2k+1) in a loop of its own: the workgroup picks its pair's
 * function once, so no element load goes through a switch (lavapipe runs every case of a switch
 * under a lane mask, which made a per-element buffer switch cost as many loads as cases).
 */
function dotsWgsl(pairs: number, quads: boolean): string {
  if (quads) return dotsQuadsWgsl(pairs);
  const inputs: BindingDecl[] = Array.from({ length: 2 * pairs }, (_, k) => ({ name: `in${k}`, access: 'read' as const, type: 'f32' }));
  const R = DOT_MAX_RANK;
  // Element e → offsets of a and b (shape padded to DOT_MAX_RANK, the innermost dim last).
  const offsets = (which: 'a' | 'b', stridesAt: number): string =>
    [`      var o${which} = p[base + ${which === 'a' ? 4 : 5}u];`, `      var rem_${which} = e;`]
      .concat(
        Array.from({ length: R }, (_, k) => {
          const d = R - 1 - k;
          return `      { let c = rem_${which} % p[base + ${6 + d}u]; rem_${which} = rem_${which} / p[base + ${6 + d}u]; o${which} += c * p[base + ${stridesAt + d}u]; }`;
        }),
      )
      .join('\n');
  const pairFn = (k: number): string => `fn dot${k}(base: u32, start: u32, end: u32, lid: u32) -> f32 {
  var acc = 0.0;
  if (p[base + ${5 + R}u] == p[base]) {
    // One merged dim (contiguous or evenly strided operands): no index arithmetic per element.
    let sa = p[base + ${5 + 2 * R}u];
    let sb = p[base + ${5 + 3 * R}u];
    let oa = p[base + 4u];
    let ob = p[base + 5u];
    for (var e = start + lid; e < end; e += ${WG}u) {
      acc += in${2 * k}[oa + e * sa] * in${2 * k + 1}[ob + e * sb];
    }
  } else {
    for (var e = start + lid; e < end; e += ${WG}u) {
${offsets('a', 6 + R)}
${offsets('b', 6 + 2 * R)}
      acc += in${2 * k}[oa] * in${2 * k + 1}[ob];
    }
  }
  return acc;
}`;
  return [header([...inputs, { name: 'out', access: 'read_write', type: 'f32' }]), ...Array.from({ length: pairs }, (_, k) => pairFn(k)), dotsMain(pairs, DOT_CHUNK)].join('\n\n');
}

/**
 * Every pair contiguous, at offsets and of lengths that are multiples of 4: the inputs are read
 * as vec4s, a quarter of the loads (on lavapipe each is a lane-by-lane, bounds-checked load).
 * Workgroups take chunks of `QUAD_CHUNK` elements: a pair needs at most its `dotSlotCount` slots.
 */
function dotsQuadsWgsl(pairs: number): string {
  const inputs: BindingDecl[] = Array.from({ length: 2 * pairs }, (_, k) => ({ name: `in${k}`, access: 'read' as const, type: 'vec4<f32>' }));
  const pairFn = (k: number): string => `fn dot${k}(base: u32, start: u32, end: u32, lid: u32) -> f32 {
  var acc = 0.0;
  let oa = p[base + 4u] / 4u;
  let ob = p[base + 5u] / 4u;
  for (var e = start / 4u + lid; e < end / 4u; e += ${WG}u) {
    acc += dot(in${2 * k}[oa + e], in${2 * k + 1}[ob + e]);
  }
  return acc;
}`;
  return [header([...inputs, { name: 'out', access: 'read_write', type: 'f32' }]), ...Array.from({ length: pairs }, (_, k) => pairFn(k)), dotsMain(pairs, QUAD_CHUNK)].join('\n\n');
}

/** The entry point: the workgroup's pair and chunk, its pair's loop, and the pairwise sum of the workgroup. */
function dotsMain(pairs: number, chunk: number): string {
  const cases = Array.from({ length: pairs }, (_, k) => `    case ${k}u: { acc = dot${k}(base, start, end, lid); }`).join('\n');
  return [
    `var<workgroup> partial: array<f32, ${WG}>;`,
    `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * nwg.x;
  // The pair this workgroup works on: the last whose first workgroup is ≤ w.
  var pair = 0u;
  for (var k = 1u; k < p[0]; k++) {
    if (p[${HEAD_WORDS}u + k * ${PAIR_WORDS}u + 1u] > w) { break; }
    pair = k;
  }
  let base = ${HEAD_WORDS}u + pair * ${PAIR_WORDS}u;
  let start = (w - p[base + 1u]) * ${chunk}u;
  let end = min(p[base], start + ${chunk}u);
  var acc = 0.0;
  switch pair {
${cases}
    default: {}
  }
  // Pairwise (tree) sum of the workgroup's values: its rounding grows with log2(64), not 64, which
  // the ledger needs (its terms are differences of large totals); the host adds the workgroups'
  // partials in float64.
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s / 2u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[p[1] + w] = partial[0]; }
}`,
  ].join('\n\n');
}

/**
 * Records one dispatch writing the partial sums of Σ a ⊙ b for every pair into `out` from
 * element `outOffset` on; returns each pair's slots (relative to `outOffset`). At most
 * `dotPairLimit()` pairs, and `out` must not be one of their buffers.
 */
export function dotPartials(pairs: readonly DotPair[], out: GPUBuffer, outOffset: number): DotSlots[] {
  if (pairs.length > dotPairLimit()) throw new Error(`dots: ${pairs.length} pairs, more than the ${dotPairLimit()} one dispatch may bind`);
  const params = new Uint32Array(HEAD_WORDS + pairs.length * PAIR_WORDS);
  const slots: DotSlots[] = [];
  let workgroups = 0;
  const merges = pairs.map(({ a, b }, k) => {
    if (!sameShape(a.shape, b.shape)) throw new Error(`dots: pair ${k} has shapes ${shapeToString(a.shape)} and ${shapeToString(b.shape)}`);
    if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new Error(`dots: pair ${k} is not f32`);
    if (a.buffer === out || b.buffer === out) throw new Error('dots: the output buffer is also an input');
    const merged = coalesce(a.shape, [a.strides, b.strides]);
    if (merged.shape.length > DOT_MAX_RANK) throw new Error(`dots: pair ${k} has ${merged.shape.length} dims after merging (at most ${DOT_MAX_RANK})`);
    return merged;
  });
  const quads = pairs.every(({ a, b }, k) => {
    const { shape, strides } = merges[k]!;
    const n = numel(a.shape);
    return n === 0 || (shape.length === 1 && strides[0]![0] === 1 && strides[1]![0] === 1 && n % 4 === 0 && a.offset % 4 === 0 && b.offset % 4 === 0);
  });
  pairs.forEach(({ a, b }, k) => {
    const merged = merges[k]!;
    const rank = merged.shape.length;
    const n = numel(a.shape);
    const count = quads ? Math.ceil(n / QUAD_CHUNK) : dotSlotCount(n);
    const at = HEAD_WORDS + k * PAIR_WORDS;
    const pad = DOT_MAX_RANK - rank;
    params[at] = n;
    params[at + 1] = workgroups;
    // Words 2 and 3 are unused: pair k reads bindings 2k and 2k + 1.
    params[at + 4] = a.offset;
    params[at + 5] = b.offset;
    // Leading dims padded with size 1 (stride 0).
    for (let d = 0; d < DOT_MAX_RANK; d++) {
      const src = d - pad;
      params[at + 6 + d] = src < 0 ? 1 : merged.shape[src]!;
      params[at + 6 + DOT_MAX_RANK + d] = src < 0 ? 0 : merged.strides[0]![src]!;
      params[at + 6 + 2 * DOT_MAX_RANK + d] = src < 0 ? 0 : merged.strides[1]![src]!;
    }
    slots.push({ first: workgroups, count });
    workgroups += count;
  });
  if ((outOffset + workgroups) * 4 > out.size) throw new Error(`dots: ${workgroups} partial sums from element ${outOffset} do not fit the output buffer`);
  params[0] = pairs.length;
  params[1] = outOffset;
  if (workgroups > 0) {
    runtime().dispatch({
      key: `dots/p${pairs.length}${quads ? '/v4' : ''}`,
      wgsl: () => dotsWgsl(pairs.length, quads),
      bindings: [...pairs.flatMap((q) => [q.a.buffer, q.b.buffer]), out],
      params,
      workgroups,
    });
  }
  return slots;
}
