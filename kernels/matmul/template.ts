/**
 * The matmul WGSL template: one generator for every variant, put together from small parts —
 * the prologue (which tile this workgroup computes), the K loop (register path with operand
 * readers, or shared-memory path), and the epilogue (scaled, biased, masked stores).
 *
 * Edges cost nothing inside the K loop: rows and columns past the matrix are clamped to the last
 * one (they load valid, duplicate data) and only the stores are masked. Loaded values are named
 * a…/b…, accumulators acc{r}_{j} (vec4 along N).
 */
import { header, stridedOffsets, type BindingDecl } from '../wgsl/common.js';
import { halfDecoder, halfQuadDecoder } from '../wgsl/half.js';
import { isHalf, type HalfDType } from '../view.js';
import { epilogue, thenFunctions } from './epilogue.js';
import { readerForA, readerForB } from './readers/index.js';
import { registerLoop } from './registerPath.js';
import { sharedBindings, sharedDeclarations, sharedLoop } from './sharedPath.js';
import { P, range, type MatmulSpec } from './spec.js';

/** WGSL for one spec. */
export function matmulWgsl(s: MatmulSpec): string {
  const { v } = s;
  const register = v.sharedK === 0;
  let operands: BindingDecl[];
  let loop: string[];
  if (!register && (isHalf(s.dtypeA) || isHalf(s.dtypeB))) throw new Error('matmul: the shared-memory path reads f32 operands only'); // dispatch widens first
  if (register) {
    const A = readerForA(s);
    const B = readerForB(s);
    operands = [A.binding, B.binding];
    loop = registerLoop(s, A, B);
  } else {
    operands = sharedBindings(s);
    loop = sharedLoop(s);
  }
  const stored = s.storeVec4 ? 'vec4<f32>' : 'f32';
  const bindings: BindingDecl[] = [
    ...operands,
    ...(s.bias ? [{ name: 'bias', access: 'read', type: 'f32' } as const] : []),
    { name: 'C', access: 'read_write', type: stored },
    ...(s.then !== '' && s.then !== 'accumulate' ? [{ name: 'D', access: 'read_write', type: stored } as const] : []),
    ...(s.then === 'add' || s.then === 'accumulate' ? [{ name: 'E', access: 'read', type: 'f32' } as const] : []),
  ];
  const body = [...prologue(s), ...loop, ...epilogue(s)];
  const lane = v.broadcastA ? ', @builtin(subgroup_invocation_id) lane: u32' : '';
  const halves = [...new Set([s.dtypeA, s.dtypeB].filter(isHalf))] as HalfDType[];
  return [
    ...(v.broadcastA ? ['enable subgroups;'] : []),
    header(bindings),
    ...halves.flatMap((dt) => [halfDecoder(dt), halfQuadDecoder(dt)]),
    ...thenFunctions(s),
    ...sharedDeclarations(s),
    `@compute @workgroup_size(${v.wgCols}, ${v.wgRows})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>${lane}) {
${body.join('\n')}
}`,
  ].join('\n\n');
}

/** The workgroup's tile and batch index, the operands' offsets, this invocation's first row and column, zeroed accumulators. */
function prologue(s: MatmulSpec): string[] {
  const { v, batchRank: rb } = s;
  const L = [
    `  let wid = wg.x + wg.y * nwg.x;`,
    `  if (wid >= p[${P.workgroups}u]) { return; }`,
    `  let M = p[${P.M}u]; let N = p[${P.N}u]; let K = p[${P.K}u];`,
    `  let sAm = p[${P.sAm}u]; let sAk = p[${P.sAk}u]; let sBk = p[${P.sBk}u]; let sBn = p[${P.sBn}u];`,
    `  let tn = wid % p[${P.tilesN}u];`,
    `  let tmb = wid / p[${P.tilesN}u];`,
    `  let tm = tmb % p[${P.tilesM}u];`,
    `  let batch = tmb / p[${P.tilesM}u];`,
    stridedOffsets({ flat: 'batch', rank: rb, names: ['oc', 'oa', 'ob'], shapeAt: P.batchShape, offsetsAt: P.offC, stridesAt: P.batchShape + rb }),
    ...(s.then === 'add' || s.then === 'accumulate' ? [stridedOffsets({ flat: 'batch', rank: rb, names: ['oe'], shapeAt: P.batchShape, offsetsAt: P.offE, stridesAt: P.batchShape + 4 * rb, tag: 'e' })] : []),
    `  let row0 = tm * ${v.wgRows * v.rows}u + lid.y * ${v.rows}u;`,
    `  let col0 = tn * ${v.wgCols * v.cols}u + lid.x * ${v.cols}u;`,
  ];
  for (const r of range(v.rows)) for (const j of range(v.cols / 4)) L.push(`  var acc${r}_${j} = vec4<f32>(0.0);`);
  return L;
}
