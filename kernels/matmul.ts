/**
 * Batched matrix product C[..., M, N] = alpha · A[..., M, K] · B[..., K, N] (+ bias[N]), f32, with
 * NumPy broadcasting of the batch dimensions. Operands are any strided views: a transposed view
 * (swapped strides) is read in place, so x·Wᵀ with W stored [out, in] needs no copy.
 *
 * One template generates every variant. Its parameters (`MatmulVariant`, kernels/matmulVariants.ts):
 * - the register tile: `rows` × `cols` outputs per invocation, `wgRows` × `wgCols` invocations;
 * - `vec4`: load four consecutive elements at once along an operand's contiguous dimension
 *   (used per operand when its strides, offset and extent are multiples of four);
 * - `sharedK`: 0 reads operands straight from global memory into registers; > 0 stages
 *   (wgRows·rows) × sharedK and sharedK × (wgCols·cols) tiles in workgroup memory first;
 * - `broadcastA` and `textureB` (register path): A rows loaded once per subgroup and shared by
 *   `subgroupBroadcast`; B read from a texture it is first packed into (kernels/packTexture.ts);
 * - the operand layouts (A contiguous along K or along M, B along N or along K), which follow from
 *   the views' strides (kernels/matmulPlan.ts).
 * Which tile suits the adapter differs a lot. On lavapipe (CPU) invocations are the lanes of
 * 8-wide SIMD vectors, every buffer load in a loop becomes a scalar loop over the lanes, and
 * barriers switch coroutines, so the register path with one subgroup per workgroup, broadcasting
 * A and packing B, wins; a real GPU wants the shared-memory path. `pickMatmulVariant` chooses per
 * adapter and shape.
 *
 * Edges cost nothing inside the K loop: rows and columns past the matrix are clamped to the last
 * one (they load valid, duplicate data) and only the stores are masked.
 */
import { packIntoTexture } from './packTexture.js';
import { planMatmul, type MatmulLayout, type MatmulOptions } from './matmulPlan.js';
import type { MatmulVariant } from './matmulVariants.js';
import { runtime, type Binding } from './runtime.js';
import { contiguousStrides, numel } from './shape.js';
import { allocate, f32Bits, type GpuView, type KernelOutput } from './view.js';
import { header, stridedOffsets, type BindingDecl } from './wgsl/common.js';

export * from './matmulVariants.js';
export * from './matmulPlan.js';

type Layout = MatmulLayout;

const P = {
  M: 0,
  N: 1,
  K: 2,
  tilesM: 3,
  tilesN: 4,
  offC: 5, // offsets of C, A, B: consecutive, read by stridedOffsets
  offA: 6,
  offB: 7,
  sAm: 8,
  sAk: 9,
  sBk: 10,
  sBn: 11,
  alpha: 12,
  offBias: 13,
  sBias: 14,
  workgroups: 15,
  batchShape: 16,
} as const;

interface Spec {
  v: MatmulVariant;
  la: Layout;
  lb: Layout | 'packed';
  batchRank: number;
  bias: boolean;
  /** The kernel computes Cᵀ = Bᵀ·Aᵀ (rows of the kernel are columns of C). */
  transposedC: boolean;
}


const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** How the register path reads one operand: WGSL for the loads of K steps `kks`, and each value's name. */
interface OperandReads {
  load: (kks: number[], indent: string) => void;
  /** (row or k step, k step or column group) → WGSL expression; `step4` for the 4-step loop. */
  at: (step4: boolean) => (x: number, y: number) => string;
}

/** WGSL for one variant. Loaded values are named a…/b…, accumulators acc{r}_{j} (vec4 along N). */
function matmulWgsl(s: Spec): string {
  const { v, la, lb, batchRank: rb } = s;
  const { rows: RM, cols: RN } = v;
  const J = RN / 4;
  const bindings: BindingDecl[] = [
    { name: 'A', access: 'read', type: la.endsWith('4') ? 'vec4<f32>' : 'f32' },
    v.textureB ? { name: 'B', access: 'read', type: 'vec4<f32>', texture: true } : { name: 'B', access: 'read', type: lb.endsWith('4') ? 'vec4<f32>' : 'f32' },
  ];
  if (s.bias) bindings.push({ name: 'bias', access: 'read', type: 'f32' });
  bindings.push({ name: 'C', access: 'read_write', type: 'f32' });

  const L: string[] = [];
  L.push(`  let wid = wg.x + wg.y * nwg.x;`);
  L.push(`  if (wid >= p[${P.workgroups}u]) { return; }`);
  L.push(`  let M = p[${P.M}u]; let N = p[${P.N}u]; let K = p[${P.K}u];`);
  L.push(`  let sAm = p[${P.sAm}u]; let sAk = p[${P.sAk}u]; let sBk = p[${P.sBk}u]; let sBn = p[${P.sBn}u];`);
  L.push(`  let tn = wid % p[${P.tilesN}u];`);
  L.push(`  let tmb = wid / p[${P.tilesN}u];`);
  L.push(`  let tm = tmb % p[${P.tilesM}u];`);
  L.push(`  let batch = tmb / p[${P.tilesM}u];`);
  L.push(
    stridedOffsets({ flat: 'batch', rank: rb, names: ['oc', 'oa', 'ob'], shapeAt: P.batchShape, offsetsAt: P.offC, stridesAt: P.batchShape + rb }),
  );
  const TM = v.wgRows * RM;
  const TN = v.wgCols * RN;
  L.push(`  let row0 = tm * ${TM}u + lid.y * ${RM}u;`);
  L.push(`  let col0 = tn * ${TN}u + lid.x * ${RN}u;`);
  for (const r of range(RM)) for (const j of range(J)) L.push(`  var acc${r}_${j} = vec4<f32>(0.0);`);

  /** One FMA block for step kk, given the A scalar and B vec4 expressions. */
  const fmas = (kks: number[], aAt: (r: number, kk: number) => string, bAt: (kk: number, j: number) => string, indent: string): void => {
    for (const kk of kks) for (const r of range(RM)) for (const j of range(J)) L.push(`${indent}acc${r}_${j} = fma(vec4<f32>(${aAt(r, kk)}), ${bAt(kk, j)}, acc${r}_${j});`);
  };
  const vec = (parts: string[]): string => `vec4<f32>(${parts.join(', ')})`;

  if (v.sharedK === 0) registerPath();
  else sharedPath();

  // Stores: masked; alpha and bias applied here.
  L.push(`  let alpha = bitcast<f32>(p[${P.alpha}u]);`);
  // A transposed C (the product computed as Bᵀ·Aᵀ) is stored column by column, with the bias along rows.
  for (const r of range(RM)) {
    L.push(`  if (row0 + ${r}u < M) {`);
    L.push(s.transposedC ? `    let o${r} = oc + row0 + ${r}u + col0 * M;` : `    let o${r} = oc + (row0 + ${r}u) * N + col0;`);
    if (s.bias && s.transposedC) L.push(`    let bias${r} = bias[p[${P.offBias}u] + (row0 + ${r}u) * p[${P.sBias}u]];`);
    for (const j of range(J))
      for (const q of range(4)) {
        const c = j * 4 + q;
        const biasValue = s.transposedC ? `bias${r}` : `bias[p[${P.offBias}u] + (col0 + ${c}u) * p[${P.sBias}u]]`;
        const value = s.bias ? `acc${r}_${j}[${q}] * alpha + ${biasValue}` : `acc${r}_${j}[${q}] * alpha`;
        L.push(`    if (col0 + ${c}u < N) { C[o${r} + ${s.transposedC ? `${c}u * M` : `${c}u`}] = ${value}; }`);
      }
    L.push('  }');
  }

  const shared =
    v.sharedK > 0
      ? [
          RM % 4 === 0 ? `var<workgroup> As: array<vec4<f32>, ${(v.sharedK * TM) / 4}>;` : `var<workgroup> As: array<f32, ${v.sharedK * TM}>;`,
          `var<workgroup> Bs: array<vec4<f32>, ${(v.sharedK * TN) / 4}>;`,
        ]
      : [];
  const lane = v.broadcastA ? ', @builtin(subgroup_invocation_id) lane: u32' : '';
  return [
    ...(v.broadcastA ? ['enable subgroups;'] : []),
    header(bindings),
    ...shared,
    `@compute @workgroup_size(${v.wgCols}, ${v.wgRows})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>${lane}) {
${L.join('\n')}
}`,
  ].join('\n\n');

  /**
   * Operands read straight into registers; rows/columns past the edge are clamped, not checked.
   * A and B each have their own way in (`directAReads`/`broadcastAReads`, `directBReads`/`textureBReads`); this loop only combines them.
   */
  function registerPath(): void {
    const A = v.broadcastA ? broadcastAReads() : directAReads();
    const B = v.textureB ? textureBReads() : directBReads();
    // Steps of 4 along K where a vec4 operand (or a packed B) delivers them; scalar-only products
    // (odd shapes) take the 1-step loop alone, a quarter of the code (lavapipe compiles it 4× faster).
    if (la.endsWith('4') || lb.endsWith('4') || v.textureB) {
      L.push('  let K4 = K & ~3u;');
      L.push('  for (var k = 0u; k < K4; k += 4u) {');
      A.load([0, 1, 2, 3], '    ');
      B.load([0, 1, 2, 3], '    ');
      fmas([0, 1, 2, 3], A.at(true), B.at(true), '    ');
      L.push('  }');
    } else {
      L.push('  let K4 = 0u;');
    }
    L.push('  for (var k = K4; k < K; k++) {');
    A.load([0], '    ');
    B.load([0], '    ');
    fmas([0], A.at(false), B.at(false), '    ');
    L.push('  }');
  }

  /** Each invocation loads the A values of its own rows (uniform across a SIMD vector on CPUs). */
  function directAReads(): OperandReads {
    // Per-row (k layouts) or per-4-row-group (mn4) base offsets, in the binding's units.
    if (la === 'mn4') {
      for (const g of range(RM / 4)) L.push(`  let ab${g} = (oa + min(row0 + ${g * 4}u, M - 4u)) / 4u;`);
      L.push('  let sAk4 = sAk / 4u;');
    } else {
      for (const r of range(RM)) {
        const base = `oa + min(row0 + ${r}u, M - 1u) * sAm`;
        L.push(`  let ab${r} = ${la === 'k4' ? `(${base}) / 4u` : base};`);
      }
    }
    return {
      load: (kks, indent) => {
        if (la === 'k4') {
          if (kks.length === 4) for (const r of range(RM)) L.push(`${indent}let a${r} = A[ab${r} + k / 4u];`);
          else for (const r of range(RM)) L.push(`${indent}let a${r} = A[ab${r} + k / 4u][k % 4u];`); // never runs: K % 4 == 0
        } else if (la === 'mn4') {
          for (const kk of kks) for (const g of range(RM / 4)) L.push(`${indent}let a${kk}_${g} = A[ab${g} + (k + ${kk}u) * sAk4];`);
        } else {
          for (const kk of kks) for (const r of range(RM)) L.push(`${indent}let a${r}_${kk} = A[ab${r} + (k + ${kk}u) * sAk];`);
        }
      },
      at: (step4) => (r, kk) => (la === 'k4' ? (step4 ? `a${r}[${kk}]` : `a${r}`) : la === 'mn4' ? `a${kk}_${r >> 2}[${r & 3}]` : `a${r}_${kk}`),
    };
  }

  /**
   * Lane l of the subgroup loads row (g·S + l) of the tile, and subgroupBroadcast hands every row's
   * value to all lanes. On lavapipe a buffer load costs a scalar load and bounds check per lane, while
   * a broadcast is one register shuffle, so the tile's A values are loaded once instead of S times.
   */
  function broadcastAReads(): OperandReads {
    const S = v.wgCols;
    const groups = Math.ceil(RM / S);
    for (const g of range(groups)) {
      const base = `oa + min(row0 + ${g * S}u + lane, M - 1u) * sAm`;
      L.push(`  let ab${g} = ${la === 'k4' ? `(${base}) / 4u` : base};`);
    }
    return {
      load: (kks, indent) => {
        for (const g of range(groups)) {
          if (la === 'k4') L.push(`${indent}let al${g} = A[ab${g} + k / 4u]${kks.length === 4 ? '' : '[k % 4u]'};`);
          else if (kks.length === 4) L.push(`${indent}let al${g} = ${vec(kks.map((kk) => `A[ab${g} + (k + ${kk}u) * sAk]`))};`);
          else L.push(`${indent}let al${g} = A[ab${g} + k * sAk];`);
        }
        for (const kk of kks)
          for (const r of range(RM)) {
            const value = kks.length === 4 ? `al${Math.floor(r / S)}[${kk}]` : `al${Math.floor(r / S)}`;
            L.push(`${indent}let a${r}_${kk} = subgroupBroadcast(${value}, ${r % S}u);`);
          }
      },
      at: () => (r, kk) => `a${r}_${kk}`,
    };
  }

  /** Each invocation loads its own columns of B from the buffer, in B's layout. */
  function directBReads(): OperandReads {
    if (lb === 'mn4') {
      for (const j of range(J)) L.push(`  let bb${j} = (ob + min(col0 + ${j * 4}u, N - 4u)) / 4u;`);
      L.push('  let sBk4 = sBk / 4u;');
    } else {
      for (const c of range(RN)) {
        const base = `ob + min(col0 + ${c}u, N - 1u) * sBn`;
        L.push(`  let bb${c} = ${lb === 'k4' ? `(${base}) / 4u` : base};`);
      }
    }
    return {
      load: (kks, indent) => {
        if (lb === 'k4') {
          if (kks.length === 4) for (const c of range(RN)) L.push(`${indent}let b${c} = B[bb${c} + k / 4u];`);
          else for (const c of range(RN)) L.push(`${indent}let b${c} = B[bb${c} + k / 4u][k % 4u];`);
        } else if (lb === 'mn4') {
          for (const kk of kks) for (const j of range(J)) L.push(`${indent}let b${kk}_${j} = B[bb${j} + (k + ${kk}u) * sBk4];`);
        } else {
          for (const kk of kks) for (const c of range(RN)) L.push(`${indent}let b${c}_${kk} = B[bb${c} + (k + ${kk}u) * sBk];`);
        }
      },
      at: (step4) => (kk, j) =>
        lb === 'mn4'
          ? `b${kk}_${j}`
          : lb === 'k4'
            ? vec(range(4).map((q) => (step4 ? `b${j * 4 + q}[${kk}]` : `b${j * 4 + q}`)))
            : vec(range(4).map((q) => `b${j * 4 + q}_${kk}`)),
    };
  }

  /**
   * B packed by `packMatmulB` into an rgba32float texture array: texel (x, k, layer) holds
   * B[layer][k][4x … 4x+3]. Lavapipe reads it through its texel-fetch code instead of the
   * per-lane, bounds-checked loads it makes of a buffer read (docs/benchmarks.md). Texels past the last column are clamped by the
   * texture's bounds and only feed columns that are never stored.
   */
  function textureBReads(): OperandReads {
    for (const j of range(J)) L.push(`  let bx${j} = col0 / 4u + ${j}u;`);
    return {
      load: (kks, indent) => {
        for (const kk of kks) for (const j of range(J)) L.push(`${indent}let b${kk}_${j} = textureLoad(B, vec2<u32>(bx${j}, k + ${kk}u), ob);`);
      },
      at: () => (kk, j) => `b${kk}_${j}`,
    };
  }

  /** Workgroup tiles of A (TK × TM, k-major) and B (TK × TN) staged in shared memory. */
  function sharedPath(): void {
    if (lb === 'packed') throw new Error('matmul: a packed B needs the register path'); // checkVariant rules it out
    const TK = v.sharedK;
    const threads = v.wgRows * v.wgCols;
    L.push(`  let tid = lid.y * ${v.wgCols}u + lid.x;`);
    L.push(`  let tileRow = tm * ${TM}u;`);
    L.push(`  let tileCol = tn * ${TN}u;`);
    L.push(`  for (var kt = 0u; kt < K; kt += ${TK}u) {`);
    // As holds vec4s along M when every invocation's rows are whole vectors (fewer, wider reads).
    const aVec = RM % 4 === 0;
    copyTile('A', la, TM, 'tileRow', 'M', 'oa', 'sAm', 'sAk', (kk, m) =>
      aVec ? `As[((${kk}) * ${TM}u + ${m}) / 4u][(${m}) % 4u]` : `As[(${kk}) * ${TM}u + ${m}]`,
    );
    copyTile('B', lb, TN, 'tileCol', 'N', 'ob', 'sBn', 'sBk', (kk, n) => `Bs[((${kk}) * ${TN}u + ${n}) / 4u][(${n}) % 4u]`);
    L.push('    workgroupBarrier();');
    L.push(`    for (var kk = 0u; kk < ${TK}u; kk++) {`);
    if (aVec) for (const g of range(RM / 4)) L.push(`      let a${g} = As[(kk * ${TM}u + lid.y * ${RM}u) / 4u + ${g}u];`);
    else for (const r of range(RM)) L.push(`      let a${r} = As[kk * ${TM}u + lid.y * ${RM}u + ${r}u];`);
    for (const j of range(J)) L.push(`      let b${j} = Bs[(kk * ${TN}u + lid.x * ${RN}u) / 4u + ${j}u];`);
    fmas([0], (r) => (aVec ? `a${r >> 2}[${r & 3}]` : `a${r}`), (_kk, j) => `b${j}`, '      ');
    L.push('    }');
    L.push('    workgroupBarrier();');
    L.push('  }');

    /**
     * Cooperative copy of one operand's tile, zero-filled outside the matrix. Invocations walk
     * the operand's contiguous dimension fastest (coalesced), four elements at a time with vec4.
     */
    function copyTile(
      X: string,
      layout: Layout,
      T: number,
      tile0: string,
      extent: string,
      off: string,
      sMn: string,
      sK: string,
      store: (kk: string, mn: string) => string,
    ): void {
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
    }
  }
}

/** Strides of a dimension of size 1 never matter: zero them so layout checks see the rest. */

/**
 * alpha · a · b (+ bias) with batch broadcasting: a [..., M, K], b [..., K, N] → [..., M, N].
 * Both operands must have rank ≥ 2; the result is a new contiguous tensor.
 */
export function matmul(a: GpuView, b: GpuView, options: MatmulOptions = {}): KernelOutput {
  const plan = planMatmul(a, b, options);
  const { shape, variant: v, batch } = plan;
  const { bias, alpha = 1 } = options;
  const out = allocate('matmul', shape, 'f32');
  if (numel(shape) === 0) return { buffer: out, shape, dtype: 'f32' };
  // The kernel's operands: the plan's, or with A packed, Bᵀ (rows shared by broadcast) and Aᵀ
  // (packed) for Cᵀ = Bᵀ·Aᵀ, stored transposed.
  const transposedC = plan.layoutA === 'packed';
  const [sC, sA, sB] = plan.batchStrides;
  const k = transposedC
    ? { first: b, second: a, M: plan.N, N: plan.M, sAm: plan.sBn, sAk: plan.sBk, sBk: plan.sAk, sBn: plan.sAm, la: plan.layoutB, lb: plan.layoutA, sFirst: sB, sSecond: sA }
    : { first: a, second: b, M: plan.M, N: plan.N, sAm: plan.sAm, sAk: plan.sAk, sBk: plan.sBk, sBn: plan.sBn, la: plan.layoutA, lb: plan.layoutB, sFirst: sA, sSecond: sB };
  if (k.la === 'packed') throw new Error('matmul: only one operand can be packed'); // planMatmul packs at most one
  const rb = batch.length;
  const tilesM = Math.ceil(k.M / (v.rows * v.wgRows));
  const tilesN = Math.ceil(k.N / (v.cols * v.wgCols));
  const workgroups = numel(batch) * tilesM * tilesN;
  // The packed operand gets one texture layer per batch index, in row-major order.
  const packed =
    k.lb === 'packed'
      ? packIntoTexture({ buffer: k.second.buffer, shape: [...batch, plan.K, k.N], strides: [...k.sSecond, k.sBk, k.sBn], offset: k.second.offset, dtype: 'f32' })
      : null;
  const params = new Uint32Array(P.batchShape + 4 * rb);
  params[P.M] = k.M;
  params[P.N] = k.N;
  params[P.K] = plan.K;
  params[P.tilesM] = tilesM;
  params[P.tilesN] = tilesN;
  params[P.offC] = 0;
  params[P.offA] = k.first.offset;
  params[P.offB] = packed ? 0 : k.second.offset;
  params[P.sAm] = k.sAm;
  params[P.sAk] = k.sAk;
  params[P.sBk] = k.sBk;
  params[P.sBn] = k.sBn;
  params[P.alpha] = f32Bits(alpha);
  params[P.offBias] = bias?.offset ?? 0;
  params[P.sBias] = bias?.strides[0] ?? 0;
  params[P.workgroups] = workgroups;
  params.set(batch, P.batchShape);
  [sC, k.sFirst, packed ? contiguousStrides(batch) : k.sSecond].forEach((s, i) => params.set(s, P.batchShape + (i + 1) * rb));
  const spec: Spec = { v, la: k.la, lb: k.lb, batchRank: rb, bias: bias !== undefined, transposedC };
  const second: Binding = packed ? { textureView: packed.view } : k.second.buffer;
  runtime().dispatch({
    key: `matmul/${v.rows}x${v.cols}/${v.wgRows}x${v.wgCols}/s${v.sharedK}${v.broadcastA ? '/bcastA' : ''}/${spec.la},${spec.lb}/b${rb}${spec.bias ? '/bias' : ''}${transposedC ? '/Ct' : ''}`,
    wgsl: () => matmulWgsl(spec),
    bindings: bias ? [k.first.buffer, second, bias.buffer, out] : [k.first.buffer, second, out],
    params,
    workgroups,
  });
  // Later dispatches may reuse the texture at once: they run after this one.
  if (packed) runtime().textures.release(packed);
  return { buffer: out, shape, dtype: 'f32' };
}
