/**
 * Many dot products Σ a ⊙ b in one dispatch. The LRP layer measures relevance as sums of
 * x ⊙ ĝ_x over whole tensors: per graph node for the conservation ledger, per tap and bias for
 * the report. Each was a `mul` and a `sum` (two dispatches, and a read per value); here any
 * number of pairs over up to `dotBindingLimit()` distinct buffers go in one dispatch.
 *
 * Each pair (same shape, any strides) is cut into chunks of `DOT_CHUNK` elements; workgroup w
 * reduces one chunk and writes its partial sum to `out[outOffset + w]`. The caller adds a pair's
 * partials (in float64, on the host, after one read of the whole partials buffer). Which buffer
 * a pair reads is a parameter, so one pipeline per binding count serves every batch.
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
/** Pair ranks after coalescing are padded to this; a pair with more dims is refused. */
export const DOT_MAX_RANK = 4;
/** Parameter words per pair: n, first workgroup, buffer of a, of b, offsets of a and b, shape, strides of a and b. */
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

/** Distinct input buffers one dispatch may read: the device's storage-binding limit less the parameter block and the output. */
export function dotBindingLimit(): number {
  return Math.max(2, runtime().limits.maxStorageBuffersPerShaderStage - 2);
}

/** Partial-sum slots `dotPartials` writes for a pair of `n` elements. */
export function dotSlotCount(n: number): number {
  return Math.ceil(n / DOT_CHUNK);
}

function dotsWgsl(buffers: number): string {
  const inputs: BindingDecl[] = Array.from({ length: buffers }, (_, k) => ({ name: `in${k}`, access: 'read' as const, type: 'f32' }));
  const cases = inputs.map((_, k) => `    case ${k}u: { return in${k}[i]; }`).join('\n');
  // Element e of the pair at parameter word `base` → offsets of a and b (shape padded to DOT_MAX_RANK).
  const offsets = (which: 'a' | 'b', stridesAt: number): string =>
    [`  var o${which} = p[base + ${which === 'a' ? 4 : 5}u];`, `  var rem_${which} = e;`]
      .concat(
        Array.from({ length: DOT_MAX_RANK }, (_, k) => {
          const d = DOT_MAX_RANK - 1 - k;
          return `  { let c = rem_${which} % p[base + ${6 + d}u]; rem_${which} = rem_${which} / p[base + ${6 + d}u]; o${which} += c * p[base + ${stridesAt + d}u]; }`;
        }),
      )
      .join('\n');
  return [
    header([...inputs, { name: 'out', access: 'read_write', type: 'f32' }]),
    `fn load(buffer: u32, i: u32) -> f32 {
  switch buffer {
${cases}
    default: { return 0.0; }
  }
}`,
    `fn element(base: u32, e: u32) -> f32 {
${offsets('a', 6 + DOT_MAX_RANK)}
${offsets('b', 6 + 2 * DOT_MAX_RANK)}
  return load(p[base + 2u], oa) * load(p[base + 3u], ob);
}`,
    `var<workgroup> partial: array<f32, ${WG}>;`,
    `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * nwg.x;
  // The pair this workgroup works on: the last whose first workgroup is ≤ w.
  var base = ${HEAD_WORDS}u;
  for (var k = 1u; k < p[0]; k++) {
    let next = ${HEAD_WORDS}u + k * ${PAIR_WORDS}u;
    if (p[next + 1u] > w) { break; }
    base = next;
  }
  let n = p[base];
  let start = (w - p[base + 1u]) * ${DOT_CHUNK}u;
  let end = min(n, start + ${DOT_CHUNK}u);
  var acc = 0.0;
  let rank1 = p[base + ${5 + DOT_MAX_RANK}u] == n;
  if (rank1) {
    // One merged dim (contiguous or evenly strided operands): no index arithmetic per element.
    let ba = p[base + 2u];
    let bb = p[base + 3u];
    let sa = p[base + ${5 + 2 * DOT_MAX_RANK}u];
    let sb = p[base + ${5 + 3 * DOT_MAX_RANK}u];
    let oa = p[base + 4u];
    let ob = p[base + 5u];
    for (var e = start + lid; e < end; e += ${WG}u) {
      acc += load(ba, oa + e * sa) * load(bb, ob + e * sb);
    }
  } else {
    for (var e = start + lid; e < end; e += ${WG}u) {
      acc += element(base, e);
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  // Invocation 0 adds the workgroup's values in order: one barrier in all (see WG).
  if (lid == 0u) {
    var total = 0.0;
    for (var k = 0u; k < ${WG}u; k++) { total += partial[k]; }
    out[p[1] + w] = total;
  }
}`,
  ].join('\n\n');
}

/**
 * Records one dispatch writing the partial sums of Σ a ⊙ b for every pair into `out` from
 * element `outOffset` on; returns each pair's slots (relative to `outOffset`). The pairs may read
 * at most `dotBindingLimit()` distinct buffers, and `out` must not be one of them.
 */
export function dotPartials(pairs: readonly DotPair[], out: GPUBuffer, outOffset: number): DotSlots[] {
  const buffers: GPUBuffer[] = [];
  const indexOf = (b: GPUBuffer): number => {
    let i = buffers.indexOf(b);
    if (i < 0) i = buffers.push(b) - 1;
    return i;
  };
  const params = new Uint32Array(HEAD_WORDS + pairs.length * PAIR_WORDS);
  const slots: DotSlots[] = [];
  let workgroups = 0;
  pairs.forEach(({ a, b }, k) => {
    if (!sameShape(a.shape, b.shape)) throw new Error(`dots: pair ${k} has shapes ${shapeToString(a.shape)} and ${shapeToString(b.shape)}`);
    if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new Error(`dots: pair ${k} is not f32`);
    if (a.buffer === out || b.buffer === out) throw new Error('dots: the output buffer is also an input');
    const merged = coalesce(a.shape, [a.strides, b.strides]);
    const rank = merged.shape.length;
    if (rank > DOT_MAX_RANK) throw new Error(`dots: pair ${k} has ${rank} dims after merging (at most ${DOT_MAX_RANK})`);
    const n = numel(a.shape);
    const count = dotSlotCount(n);
    const at = HEAD_WORDS + k * PAIR_WORDS;
    const pad = DOT_MAX_RANK - rank;
    params[at] = n;
    params[at + 1] = workgroups;
    params[at + 2] = indexOf(a.buffer);
    params[at + 3] = indexOf(b.buffer);
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
  if (buffers.length > dotBindingLimit()) throw new Error(`dots: ${buffers.length} distinct buffers, more than the ${dotBindingLimit()} one dispatch may bind`);
  if ((outOffset + workgroups) * 4 > out.size) throw new Error(`dots: ${workgroups} partial sums from element ${outOffset} do not fit the output buffer`);
  params[0] = pairs.length;
  params[1] = outOffset;
  if (workgroups > 0) {
    runtime().dispatch({
      key: `dots/b${buffers.length}`,
      wgsl: () => dotsWgsl(buffers.length),
      bindings: [...buffers, out],
      params,
      workgroups,
    });
  }
  return slots;
}
