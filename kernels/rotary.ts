/**
 * Rotary position embedding, HF "rotate half" layout, fused in one dispatch:
 *   out = x ⊙ cos + rotateHalf(x) ⊙ sin,   rotateHalf(x) = concat(−x[..., R/2:R], x[..., :R/2])
 * over the first R = cos.shape[-1] features of x's last dim D (R ≤ D; the rest passes through,
 * as in partial rotary). cos/sin broadcast against x (e.g. [T, R] against [B, H, T, D]).
 *
 * The same template with `transposed` computes the adjoint with respect to x, which the backward
 * needs: g ⊙ cos + rotateHalfᵀ(g ⊙ sin), rotateHalfᵀ(y) = concat(y[..., R/2:R], −y[..., :R/2]).
 * (Equal to the inverse rotation only when sin's two halves are equal, as in HF's tables.)
 */
import { runtime } from './runtime.js';
import { broadcastShapes, broadcastStrides, contiguousStrides, isDenseLayout, numel, shapeToString } from './shape.js';
import { allocate, f32Bits, type GpuView, type KernelOutput } from './view.js';
import { flatEntry, header, stridedOffsets, workgroupsFor } from './wgsl/common.js';
import { templateLaunch } from './wgsl/specKey.js';

/**
 * Parameter layout: n, D, R, offsets (x, cos, sin), shape (rank), strides of x, cos, sin (rank
 * words each), then (adjoint only) a factor on the result, then (`stridedOut`) the output's
 * strides (rank words). Without them the output is contiguous, so the feature index is i % D.
 */
function rotaryWgsl(rank: number, transposed: boolean, stridedOut: boolean): string {
  const shapeAt = 6;
  const stridesAt = shapeAt + rank;
  const outStridesAt = stridesAt + 3 * rank + (transposed ? 1 : 0);
  const last = (k: number): string => `p[${stridesAt + k * rank + rank - 1}u]`;
  // The backward's factor (the uniform rule's ½): exact for powers of two, so ½·(a + b) is (½a) + (½b).
  const scale = transposed ? ` * bitcast<f32>(p[${stridesAt + 3 * rank}u])` : '';
  // Partner of feature d in the other half, at ±h features; its sign; and (adjoint) where sin is read.
  const partner = transposed
    ? ['  let sx = select(-x[ox - h * xs], x[ox + h * xs], d < h);', '  let sn = select(sine[os - h * ss], sine[os + h * ss], d < h);']
    : ['  let sx = select(x[ox - h * xs], -x[ox + h * xs], d < h);', '  let sn = sine[os];'];
  // A strided output: its offset from the same coordinates (the fourth operand's strides).
  const offsets = [
    stridedOffsets({ flat: 'i', rank, names: ['ox', 'oc', 'os'], shapeAt, offsetsAt: 3, stridesAt }),
    ...(stridedOut ? [stridedOffsets({ flat: 'i', rank, names: ['oo'], shapeAt, offsetsAt: null, stridesAt: outStridesAt, tag: 'o' })] : []),
  ].join('\n');
  const at = stridedOut ? 'oo' : 'i';
  const body = [
    '  if (i >= p[0]) { return; }',
    offsets,
    '  let d = i % p[1];',
    `  if (d >= p[2]) { out[${at}] = x[ox]${scale}; return; }`,
    '  let h = p[2] / 2u;',
    `  let xs = ${last(0)};`,
    `  let ss = ${last(2)};`,
    ...partner,
    `  out[${at}] = (x[ox] * cosine[oc] + sx * sn)${scale};`,
  ].join('\n');
  return [
    header([
      { name: 'x', access: 'read', type: 'f32' },
      { name: 'cosine', access: 'read', type: 'f32' },
      { name: 'sine', access: 'read', type: 'f32' },
      { name: 'out', access: 'read_write', type: 'f32' },
    ]),
    flatEntry(body),
  ].join('\n\n');
}

/** Checks shapes; returns the rotary width R. */
export function checkRotary(op: string, x: GpuView, cos: GpuView, sin: GpuView): number {
  const describe = `x ${shapeToString(x.shape)}, cos ${shapeToString(cos.shape)}, sin ${shapeToString(sin.shape)}`;
  for (const [name, v] of [['x', x], ['cos', cos], ['sin', sin]] as const) {
    if (v.dtype !== 'f32') throw new Error(`${op}: ${name} must be f32, got ${v.dtype} (${describe})`);
  }
  if (x.shape.length < 1 || cos.shape.length < 1) throw new Error(`${op}: x, cos and sin need a feature dimension (${describe})`);
  if (cos.shape.length !== sin.shape.length || cos.shape.some((d, i) => d !== sin.shape[i])) {
    throw new Error(`${op}: cos and sin must have the same shape (${describe})`);
  }
  const D = x.shape[x.shape.length - 1]!;
  const R = cos.shape[cos.shape.length - 1]!;
  if (R % 2 !== 0 || R > D) throw new Error(`${op}: the rotary width ${R} (last dim of cos) must be even and ≤ x's last dim ${D} (${describe})`);
  if (cos.shape.length > x.shape.length) throw new Error(`${op}: cos has more dims than x (${describe})`);
  const lead = x.shape.slice(0, -1);
  const target = broadcastShapes(op, lead, cos.shape.slice(0, -1));
  if (target.length !== lead.length || target.some((d, i) => d !== lead[i])) {
    throw new Error(`${op}: cos/sin do not broadcast to x's leading dims (${describe})`);
  }
  return R;
}

/**
 * The fused rotary kernel, or its adjoint with respect to x when `transposed`, whose result is
 * multiplied by `factor` (the forward takes no factor). `outStrides`: the result's element strides,
 * a dense layout of x's shape (default row-major): the adjoint writes x's gradient in x's own
 * memory order, so a gradient that goes back through x's permute and reshape needs no copy.
 */
export function rotary(x: GpuView, cos: GpuView, sin: GpuView, transposed = false, op = 'rotary', factor = 1, outStrides?: readonly number[]): KernelOutput {
  if (!transposed && factor !== 1) throw new Error(`${op}: a factor applies to the adjoint only`);
  const R = checkRotary(op, x, cos, sin);
  const shape = [...x.shape];
  const n = numel(shape);
  const rank = shape.length;
  const rowMajor = contiguousStrides(shape);
  const stridedOut = outStrides !== undefined && outStrides.some((s, i) => s !== rowMajor[i]);
  if (outStrides !== undefined && (outStrides.length !== rank || !isDenseLayout(shape, outStrides))) {
    throw new Error(`${op}: output strides [${outStrides.join(', ')}] are not a dense layout of ${shapeToString(shape)}`);
  }
  const out = allocate(op, shape, 'f32');
  const D = shape[rank - 1]!;
  // cos/sin walk x's coordinates; their last dim has R ≤ D entries and is read only for d < R.
  const tableShape = [...shape.slice(0, -1), R];
  const params = new Uint32Array(7 + 5 * rank);
  params.set([n, D, R, x.offset, cos.offset, sin.offset]);
  params.set(shape, 6);
  params.set(x.strides, 6 + rank);
  params.set(broadcastStrides(cos.shape, cos.strides, tableShape), 6 + 2 * rank);
  params.set(broadcastStrides(sin.shape, sin.strides, tableShape), 6 + 3 * rank);
  params[6 + 4 * rank] = f32Bits(factor);
  if (stridedOut) params.set(outStrides!, 6 + 4 * rank + (transposed ? 1 : 0));
  runtime().dispatch({
    ...templateLaunch('rotary', { rank, transposed, stridedOut }, (s) => rotaryWgsl(s.rank, s.transposed, s.stridedOut)),
    bindings: [x.buffer, cos.buffer, sin.buffer, out],
    params,
    workgroups: workgroupsFor(n),
  });
  return stridedOut ? { buffer: out, shape, dtype: 'f32', strides: [...outStrides!] } : { buffer: out, shape, dtype: 'f32' };
}


/**
 * Parameter layout of the table-gradient kernel: count, h (= R/2), factor, offsets of g and x, then
 * per dim of x (rank words each): the table's size (1 where it was broadcast), the size summed
 * over (x's where the table's is 1, else 1), g's stride, x's stride.
 */
function rotaryTableGradsWgsl(rank: number): string {
  const at = (what: 0 | 1 | 2 | 3, d: number): string => `p[${5 + what * rank + d}u]`;
  const kept = (d: number): string => at(0, d);
  const summed = (d: number): string => at(1, d);
  const lines = ['  if (i >= p[0]) { return; }', '  var og = p[3];', '  var ox = p[4];', '  var rem = i;'];
  // The table element's coordinates (its last dim is the feature r < R) give the base offsets.
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(`  { let c = rem % ${kept(d)}; rem = rem / ${kept(d)}; og += c * ${at(2, d)}; ox += c * ${at(3, d)}; }`);
    if (d === rank - 1) lines.push(`  let r = i % ${kept(d)};`);
  }
  const count = Array.from({ length: rank }, (_, d) => summed(d)).join(' * ');
  // rotateHalf(x)[r] = −x[r + h] for r < h, x[r − h] above: its partner along the feature dim.
  const xs = at(3, rank - 1);
  lines.push(
    '  let h = p[1];',
    `  let partner = select(-i32(h), i32(h), r < h) * i32(${xs});`,
    '  let flip = select(1.0, -1.0, r < h);',
    '  var gc = 0.0;',
    '  var gs = 0.0;',
    `  let m = ${count};`,
    '  for (var j = 0u; j < m; j++) {',
    '    var og2 = og;',
    '    var ox2 = ox;',
    '    var rest = j;',
    ...Array.from({ length: rank }, (_, k) => {
      const d = rank - 1 - k;
      return `    { let c = rest % ${summed(d)}; rest = rest / ${summed(d)}; og2 += c * ${at(2, d)}; ox2 += c * ${at(3, d)}; }`;
    }),
    '    let gv = g[og2];',
    '    gc += gv * x[ox2];',
    '    gs += gv * flip * x[u32(i32(ox2) + partner)];',
    '  }',
    '  let factor = bitcast<f32>(p[2]);',
    '  gcos[i] = gc * factor;',
    '  gsin[i] = gs * factor;',
  );
  return [
    header([
      { name: 'g', access: 'read', type: 'f32' },
      { name: 'x', access: 'read', type: 'f32' },
      { name: 'gcos', access: 'read_write', type: 'f32' },
      { name: 'gsin', access: 'read_write', type: 'f32' },
    ]),
    flatEntry(lines.join('\n')),
  ].join('\n\n');
}

/**
 * The gradients of rotary's tables in one dispatch: `factor` · Σ g ⊙ x and `factor` · Σ g ⊙
 * rotateHalf(x), each summed over the dims along which the table was broadcast to x, so shaped as
 * the table (`tableShape`, e.g. [T, R] against x [B, H, T, D]). Only x's first R features are read
 * (R = the table's last dim). What PA-LRP's relevance into the rotary tables costs per rotary node:
 * one pass over g and x instead of a negation, a concatenation, two products and two reductions.
 * Each table element sums its terms in order, one invocation per element.
 */
export function rotaryTableGrads(g: GpuView, x: GpuView, tableShape: readonly number[], factor = 1): { gcos: KernelOutput; gsin: KernelOutput } {
  const rank = x.shape.length;
  const R = tableShape[tableShape.length - 1]!;
  if (g.shape.length !== rank || g.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`rotaryTableGrads: g ${shapeToString(g.shape)} and x ${shapeToString(x.shape)} differ`);
  }
  if (g.dtype !== 'f32' || x.dtype !== 'f32') throw new Error('rotaryTableGrads: g and x must be f32');
  if (tableShape.length > rank || R % 2 !== 0 || R > x.shape[rank - 1]!) {
    throw new Error(`rotaryTableGrads: table ${shapeToString(tableShape)} does not fit x ${shapeToString(x.shape)}`);
  }
  const padded = [...new Array<number>(rank - tableShape.length).fill(1), ...tableShape];
  const keptSizes = padded.map((t, d) => (d === rank - 1 ? R : t));
  const summedSizes = padded.map((t, d) => {
    if (d === rank - 1) return 1;
    if (t !== 1 && t !== x.shape[d]) throw new Error(`rotaryTableGrads: table ${shapeToString(tableShape)} does not broadcast to x ${shapeToString(x.shape)}`);
    return t === 1 ? x.shape[d]! : 1;
  });
  const count = numel(tableShape);
  const gcos = allocate('rotaryTableGrads', [...tableShape], 'f32');
  const gsin = allocate('rotaryTableGrads', [...tableShape], 'f32');
  if (count > 0) {
    const params = new Uint32Array(5 + 4 * rank);
    params.set([count, R / 2, f32Bits(factor), g.offset, x.offset]);
    params.set(keptSizes, 5);
    params.set(summedSizes, 5 + rank);
    params.set(g.strides, 5 + 2 * rank);
    params.set(x.strides, 5 + 3 * rank);
    runtime().dispatch({
      ...templateLaunch('rotaryTableGrads', { rank }, (s) => rotaryTableGradsWgsl(s.rank)),
      bindings: [g.buffer, x.buffer, gcos, gsin],
      params,
      workgroups: workgroupsFor(count),
    });
  }
  return { gcos: { buffer: gcos, shape: [...tableShape], dtype: 'f32' }, gsin: { buffer: gsin, shape: [...tableShape], dtype: 'f32' } };
}
