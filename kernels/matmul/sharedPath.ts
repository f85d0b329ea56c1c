/**
 * The shared-memory path (GPUs): workgroup tiles of A (TK × TM, k-major) and B (TK × TN) staged
 * in workgroup memory by all invocations together, then multiplied from there.
 */
import type { BindingDecl } from '../wgsl/common.js';
import type { MatmulLayout } from './plan.js';
import { bufferBinding } from './readers/index.js';
import { fmaLines, range, type MatmulSpec } from './spec.js';

/** The operand bindings of the shared path: both buffers, read in their layouts. */
export function sharedBindings(s: MatmulSpec): BindingDecl[] {
  if (s.lb === 'packed' || s.lb === 'packedK') throw new Error('matmul: a packed B needs the register path'); // checkVariant rules it out
  return [bufferBinding('A', s.la), bufferBinding('B', s.lb)];
}

/** Workgroup-memory declarations of the shared path (none for the register path). */
export function sharedDeclarations(s: MatmulSpec): string[] {
  const { v } = s;
  if (v.sharedK === 0) return [];
  const TM = v.wgRows * v.rows;
  const TN = v.wgCols * v.cols;
  return [
    v.rows % 4 === 0 ? `var<workgroup> As: array<vec4<f32>, ${(v.sharedK * TM) / 4}>;` : `var<workgroup> As: array<f32, ${v.sharedK * TM}>;`,
    `var<workgroup> Bs: array<vec4<f32>, ${(v.sharedK * TN) / 4}>;`,
  ];
}

/** The K loop of the shared path. */
export function sharedLoop(s: MatmulSpec): string[] {
  const { v, la, lb } = s;
  if (lb === 'packed' || lb === 'packedK') throw new Error('matmul: a packed B needs the register path'); // checkVariant rules it out
  const RM = v.rows;
  const TK = v.sharedK;
  const TM = v.wgRows * RM;
  const TN = v.wgCols * v.cols;
  const threads = v.wgRows * v.wgCols;
  const L: string[] = [];
  L.push(`  let tid = lid.y * ${v.wgCols}u + lid.x;`);
  L.push(`  let tileRow = tm * ${TM}u;`);
  L.push(`  let tileCol = tn * ${TN}u;`);
  L.push(`  for (var kt = 0u; kt < K; kt += ${TK}u) {`);
  // As holds vec4s along M when every invocation's rows are whole vectors (fewer, wider reads).
  const aVec = RM % 4 === 0;
  const tile = { TK, threads };
  L.push(
    ...copyTile(tile, { X: 'A', layout: la, T: TM, tile0: 'tileRow', extent: 'M', off: 'oa', sMn: 'sAm', sK: 'sAk' }, (kk, m) =>
      aVec ? `As[((${kk}) * ${TM}u + ${m}) / 4u][(${m}) % 4u]` : `As[(${kk}) * ${TM}u + ${m}]`,
    ),
  );
  L.push(...copyTile(tile, { X: 'B', layout: lb, T: TN, tile0: 'tileCol', extent: 'N', off: 'ob', sMn: 'sBn', sK: 'sBk' }, (kk, n) => `Bs[((${kk}) * ${TN}u + ${n}) / 4u][(${n}) % 4u]`));
  L.push('    workgroupBarrier();');
  L.push(`    for (var kk = 0u; kk < ${TK}u; kk++) {`);
  if (aVec) for (const g of range(RM / 4)) L.push(`      let a${g} = As[(kk * ${TM}u + lid.y * ${RM}u) / 4u + ${g}u];`);
  else for (const r of range(RM)) L.push(`      let a${r} = As[kk * ${TM}u + lid.y * ${RM}u + ${r}u];`);
  for (const j of range(v.cols / 4)) L.push(`      let b${j} = Bs[(kk * ${TN}u + lid.x * ${v.cols}u) / 4u + ${j}u];`);
  L.push(...fmaLines(v, [0], (r) => (aVec ? `a${r >> 2}[${r & 3}]` : `a${r}`), (_kk, j) => `b${j}`, '      '));
  L.push('    }');
  L.push('    workgroupBarrier();');
  L.push('  }');
  return L;
}

/** One operand's tile: which operand, its layout, tile extent and the WGSL names of its geometry. */
interface TileSource {
  X: 'A' | 'B';
  layout: MatmulLayout;
  T: number;
  tile0: string;
  extent: string;
  off: string;
  sMn: string;
  sK: string;
}

/**
 * Cooperative copy of one operand's tile, zero-filled outside the matrix. Invocations walk the
 * operand's contiguous dimension fastest (coalesced), four elements at a time with vec4.
 */
function copyTile({ TK, threads }: { TK: number; threads: number }, src: TileSource, store: (kk: string, mn: string) => string): string[] {
  const { X, layout, T, tile0, extent, off, sMn, sK } = src;
  const L: string[] = [];
  const w = layout.endsWith('4') ? 4 : 1;
  const alongK = layout.startsWith('k');
  const chunks = alongK ? TK / w : T / w; // chunks along the contiguous dimension
  const total = alongK ? T * chunks : TK * chunks;
  const x = X.toLowerCase();
  L.push(`    for (var e = tid; e < ${total}u; e += ${threads}u) {`);
  if (alongK) {
    L.push(`      let ${x}mn = e / ${chunks}u;`);
    L.push(`      let ${x}kk = (e % ${chunks}u) * ${w}u;`);
  } else {
    L.push(`      let ${x}mn = (e % ${chunks}u) * ${w}u;`);
    L.push(`      let ${x}kk = e / ${chunks}u;`);
  }
  L.push(`      let ${x}i = ${tile0} + ${x}mn;`);
  L.push(`      let ${x}k = kt + ${x}kk;`);
  L.push(`      let ${x}in = ${x}i < ${extent} && ${x}k < K;`);
  const index = `${off} + ${x}i * ${sMn} + ${x}k * ${sK}`;
  if (w === 4) {
    L.push(`      var ${x}v = vec4<f32>(0.0);`);
    L.push(`      if (${x}in) { ${x}v = ${X}[(${index}) / 4u]; }`);
    for (const q of range(4)) {
      const target = alongK ? store(`${x}kk + ${q}u`, `${x}mn`) : store(`${x}kk`, `${x}mn + ${q}u`);
      L.push(`      ${target} = ${x}v[${q}];`);
    }
  } else {
    L.push(`      var ${x}v = 0.0;`);
    L.push(`      if (${x}in) { ${x}v = ${X}[${index}]; }`);
    L.push(`      ${store(`${x}kk`, `${x}mn`)} = ${x}v;`);
  }
  L.push('    }');
  return L;
}
