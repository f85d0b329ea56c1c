/**
 * Row kernels: one workgroup per row of the last axis, a per-invocation fold over the row, a
 * combine of the folded states across the workgroup, then a second walk over the row that writes
 * the result. `rowKernelWgsl` is that template (norm.ts uses it too); softmax and log-softmax are
 * its first instance.
 */
import { elementwise } from './elementwise.js';
import { runtime } from './runtime.js';
import { contiguousStrides, numel, shapeToString, type Shape } from './shape.js';
import { allocate, isContiguous, type GpuView, type KernelOutput } from './view.js';
import { header, type BindingDecl } from './wgsl/common.js';

/**
 * Largest finite f32 as a WGSL literal. WGSL has no infinity literal, and the decimal 3.4028235e38
 * is rejected (it lies above the largest f32), so it is written in hexadecimal.
 */
export const F32_MAX = '0x1.fffffep+127f';

export interface RowKernelSpec {
  /** Invocations that share one row: the workgroup, or with `subgroup` the subgroup (`RowLayout.lanes`). */
  workgroupSize: number;
  /**
   * Rows go to subgroups of `workgroupSize` lanes, `SUBGROUP_ROWS_WORKGROUP / workgroupSize` rows
   * per workgroup, and each row's states are combined with subgroup shuffles: no barrier at all.
   */
  subgroup?: boolean;
  /** Bindings after the parameter block `p`. */
  bindings: readonly BindingDecl[];
  /** Fields of `struct State` (e.g. `m: f32, s: f32`). */
  stateFields: string;
  /** Expression for the empty state. */
  init: string;
  /** Statements folding the row element `v` (column `j`) into `var st: State`. */
  step: string;
  /** Body of `fn combine(a: State, b: State) -> State`; must be associative. */
  combine: string;
  /** Statements run once the row is reduced: they see `total`, `row`, `n`, `lid`, `base`. */
  finish: string;
  /** Statements before the fold (they see `row`, `n`, `base`, `lid`), e.g. a per-row constant. */
  prelude?: string;
  /** Expression for row element `j` (sees `base`, the row's first element). */
  load: string;
  /** Module-level WGSL the body needs. */
  functions?: readonly string[];
}

/**
 * Parameter words 0 and 1 are the number of rows and the row length; word 2 is the element
 * offset of row 0 (rows are contiguous, `base = p[2] + row * n`). Kernels add their own words
 * after these. Rows beyond p[0] (padding of a folded dispatch) return before any barrier; the
 * test depends only on uniform values, so barriers stay in uniform control flow.
 *
 * The workgroup's states are combined by invocation 0 in order and published with
 * `workgroupUniformLoad`: two barriers in all, where a tree needs log2(size). On lavapipe every
 * barrier is a switch of all invocations, and this ran 1.3-2.3x faster than a tree (workgroups
 * of 64 and 256); the serial combine costs one invocation `size` steps per row.
 */
export function rowKernelWgsl(spec: RowKernelSpec): string {
  const lanes = spec.workgroupSize;
  const sub = spec.subgroup === true;
  // Subgroups: each lane folds every `lanes`-th element, a butterfly of `subgroupShuffleXor`
  // (log2(lanes) steps) combines the lanes, and lane 0's total is broadcast, so every lane
  // finishes with the same numbers. Rows are assigned by local index (row = lidx / lanes), which
  // assumes a workgroup's subgroups are runs of consecutive local indices, as on CPU adapters
  // (lavapipe's SIMD groups); the row tests check it on the adapter. Padding rows return per
  // whole subgroup, so subgroup operations stay convergent.
  const fields = spec.stateFields.split(',').map((f) => f.split(':')[0]!.trim());
  const each = (fn: (field: string) => string): string => `State(${fields.map(fn).join(', ')})`;
  const butterfly: string[] = [];
  for (let mask = 1; mask < lanes; mask *= 2) butterfly.push(`  st = combine(st, ${each((f) => `subgroupShuffleXor(st.${f}, ${mask}u)`)});`);
  const combineLanes = sub
    ? [...butterfly, `  let total = ${each((f) => `subgroupBroadcast(st.${f}, 0u)`)};`]
    : [
        '  wg_state[lid] = st;',
        '  workgroupBarrier();',
        '  if (lid == 0u) {',
        '    var acc = wg_state[0];',
        `    for (var k = 1u; k < ${lanes}u; k++) { acc = combine(acc, wg_state[k]); }`,
        '    wg_state[0] = acc;',
        '  }',
        '  let total = workgroupUniformLoad(&wg_state[0]);',
      ];
  const ids = sub
    ? '@builtin(local_invocation_index) lidx: u32, @builtin(subgroup_invocation_id) lid: u32'
    : '@builtin(local_invocation_index) lid: u32';
  const row = sub ? `(wid.x + wid.y * nwg.x) * ${SUBGROUP_ROWS_WORKGROUP / lanes}u + lidx / ${lanes}u` : 'wid.x + wid.y * nwg.x';
  return [
    // Padding rows return per subgroup (whole subgroups), which the uniformity analysis cannot see.
    ...(sub ? ['enable subgroups;', 'diagnostic(off, subgroup_uniformity);'] : []),
    header(spec.bindings),
    ...(spec.functions ?? []),
    `struct State { ${spec.stateFields} }`,
    `fn combine(a: State, b: State) -> State {\n${spec.combine}\n}`,
    ...(sub ? [] : [`var<workgroup> wg_state: array<State, ${lanes}>;`]),
    `@compute @workgroup_size(${sub ? SUBGROUP_ROWS_WORKGROUP : lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, ${ids}) {
  let row = ${row};
  if (row >= p[0]) { return; }
  let n = p[1];
  let base = p[2] + row * n;
${spec.prelude ?? ''}
  var st: State = ${spec.init};
  for (var j = lid; j < n; j += ${lanes}u) {
    let v = ${spec.load};
${spec.step}
  }
${combineLanes.join('\n')}
${spec.finish}
}`,
  ].join('\n\n');
}

/** Invocations per workgroup when rows go to subgroups (`RowLayout.subgroup`). */
export const SUBGROUP_ROWS_WORKGROUP = 64;

/** How a row kernel lays rows on invocations (`rowLayout`). */
export interface RowLayout {
  /** Invocations that share one row; the kernels' loops stride by it. */
  lanes: number;
  /** True: `lanes` is the subgroup size and rows are reduced with subgroup operations. */
  subgroup: boolean;
}

/**
 * The layout of a row kernel over rows of `n` elements. An explicit `workgroupSize` gives one
 * row per workgroup of that size. Otherwise, on a CPU adapter with a fixed subgroup size (the
 * `subgroups` feature; lavapipe: 8 lanes), one row per subgroup: no barriers, which on lavapipe
 * switch every invocation of a workgroup in turn (GPT-2 small's attention softmax took a third
 * of the GPU time, docs/benchmarks.md). Elsewhere one row per workgroup of `rowWorkgroupSize(n)`.
 */
export function rowLayout(n: number, workgroupSize?: number): RowLayout {
  if (workgroupSize !== undefined) return { lanes: workgroupSize, subgroup: false };
  const rt = runtime();
  const S = rt.adapterInfo.subgroupSize;
  if (rt.adapterInfo.isSoftware && S !== null && rt.device.features.has('subgroups') && SUBGROUP_ROWS_WORKGROUP % S === 0) return { lanes: S, subgroup: true };
  return { lanes: rowWorkgroupSize(n), subgroup: false };
}

/** Workgroups a row kernel dispatches for `rows` rows in `layout`. */
export function rowWorkgroups(rows: number, layout: RowLayout): number {
  return layout.subgroup ? Math.ceil(rows / (SUBGROUP_ROWS_WORKGROUP / layout.lanes)) : rows;
}

/** The part of a row kernel's cache key that names its layout: `wg64`, `sg8`. */
export function rowLayoutKey(layout: RowLayout): string {
  return `${layout.subgroup ? 'sg' : 'wg'}${layout.lanes}`;
}

/**
 * Workgroup size for rows of `n` elements. GPUs: the smallest power of two ≥ n from 32 to 256.
 * Software adapters: always 64. lavapipe runs a workgroup's invocations in turn, so wide groups
 * only add switching (64 ran 2048-element rows 2x faster than 256), and it JIT-compiles groups
 * of 32 or fewer 5-9x slower than groups of 40 or more (~1.5 s against ~0.2 s of CPU per variant;
 * per-row run time differs by under 30% either way). One size also means one variant per kernel.
 */
export function rowWorkgroupSize(n: number, software = runtime().adapterInfo.isSoftware): number {
  if (software) return 64;
  let wg = 32;
  while (wg < 256 && wg < n) wg *= 2;
  return wg;
}

/** Validates an explicit workgroup size (any integer from 1 to 256, the device's default limit). */
export function checkWorkgroupSize(op: string, size: number | undefined): number | undefined {
  if (size !== undefined && !(Number.isInteger(size) && size >= 1 && size <= 256)) {
    throw new Error(`${op}: workgroupSize must be an integer from 1 to 256, got ${size}`);
  }
  return size;
}

/** Rows and row length of the last axis (a 0-d tensor is one row of one element). */
export function rowsOf(shape: Shape): { rows: number; n: number } {
  const n = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  return { rows: n === 0 ? 0 : numel(shape) / n, n };
}

/**
 * Runs `use` with a contiguous version of `x` (row kernels address rows as `offset + row * n`).
 * A non-contiguous view is copied into a temporary buffer that goes back to the pool afterwards;
 * queued work runs in order, so the temporary is not reused before the kernel has read it.
 */
export function withContiguous<T>(x: GpuView, use: (view: GpuView) => T): T {
  if (isContiguous(x)) return use(x);
  const copy = elementwise('copy', [x]);
  try {
    return use({ buffer: copy.buffer, shape: copy.shape, strides: contiguousStrides(copy.shape), offset: 0, dtype: copy.dtype });
  } finally {
    runtime().pool.release(copy.buffer);
  }
}

export type SoftmaxMode = 'softmax' | 'logSoftmax';

/**
 * State: running max `m` and Σ exp(v − m). The max starts at −F32_MAX, not −∞, so a combine
 * never computes −∞ − (−∞). A row whose elements are all −∞ ends with s = 0: softmax writes 0
 * there (not 0/0 = NaN) and log-softmax writes −∞ (log of probability 0). Finite masks such as
 * −3.4e38 are ordinary values: a row masked everywhere is uniform, as in PyTorch.
 */
function softmaxWgsl(mode: SoftmaxMode, layout: RowLayout): string {
  const wg = layout.lanes;
  const write =
    mode === 'softmax'
      ? 'select(exp(v - total.m) / total.s, 0.0, total.s == 0.0)'
      : // all −∞ row: v is −∞ already; v − m − log(0) would be −∞ + ∞ = NaN
        'select(v - total.m - log(total.s), v, total.s == 0.0)';
  return rowKernelWgsl({
    workgroupSize: wg,
    subgroup: layout.subgroup,
    bindings: [
      { name: 'x', access: 'read', type: 'f32' },
      { name: 'out', access: 'read_write', type: 'f32' },
    ],
    stateFields: 'm: f32, s: f32',
    init: `State(-${F32_MAX}, 0.0)`,
    load: 'x[base + j]',
    step: `    if (v > st.m) { st.s = st.s * exp(st.m - v) + 1.0; st.m = v; } else { st.s += exp(v - st.m); }`,
    combine: `  let m = max(a.m, b.m);
  return State(m, a.s * exp(a.m - m) + b.s * exp(b.m - m));`,
    finish: `  let obase = row * n;
  for (var j = lid; j < n; j += ${wg}u) {
    let v = x[base + j];
    out[obase + j] = ${write};
  }`,
  });
}

/**
 * Softmax or log-softmax over the last axis of an f32 tensor, max-subtracted. Non-contiguous
 * inputs are copied first. Rows of any length: each invocation loops over its share of the row.
 * `workgroupSize` (1-256) overrides the choice of `rowWorkgroupSize`.
 */
export function softmaxRows(x: GpuView, mode: SoftmaxMode = 'softmax', workgroupSize?: number): KernelOutput {
  if (x.dtype !== 'f32') throw new Error(`${mode}: expects an f32 tensor, got ${x.dtype} of shape ${shapeToString(x.shape)}`);
  const shape = [...x.shape];
  const out = allocate(mode, shape, 'f32');
  const { rows, n } = rowsOf(shape);
  if (rows === 0) return { buffer: out, shape, dtype: 'f32' };
  const layout = rowLayout(n, checkWorkgroupSize(mode, workgroupSize));
  withContiguous(x, (v) => {
    runtime().dispatch({
      key: `rows/${mode}/${rowLayoutKey(layout)}`,
      wgsl: () => softmaxWgsl(mode, layout),
      bindings: [v.buffer, out],
      params: new Uint32Array([rows, n, v.offset]),
      workgroups: rowWorkgroups(rows, layout),
    });
  });
  return { buffer: out, shape, dtype: 'f32' };
}

/**
 * The softmax's vector-Jacobian product in one row kernel: s ⊙ (g − Σ_row s ⊙ g), with `s` the
 * softmax's output and `g` the gradient at it (four dispatches as mul, sum, sub, mul). Both are
 * read contiguous (a strided one is copied first).
 */
export function softmaxBackwardRows(s: GpuView, g: GpuView, workgroupSize?: number): KernelOutput {
  const op = 'softmaxBackward';
  if (s.dtype !== 'f32' || g.dtype !== 'f32' || s.shape.length !== g.shape.length || s.shape.some((d, i) => d !== g.shape[i])) {
    throw new Error(`${op}: s ${s.dtype}${shapeToString(s.shape)} and g ${g.dtype}${shapeToString(g.shape)} must be f32 of one shape`);
  }
  const shape = [...s.shape];
  const out = allocate(op, shape, 'f32');
  const { rows, n } = rowsOf(shape);
  if (rows === 0) return { buffer: out, shape, dtype: 'f32' };
  const layout = rowLayout(n, checkWorkgroupSize(op, workgroupSize));
  const wg = layout.lanes;
  withContiguous(s, (sc) =>
    withContiguous(g, (gc) => {
      runtime().dispatch({
        key: `rows/softmaxBackward/${rowLayoutKey(layout)}`,
        wgsl: () =>
          rowKernelWgsl({
            workgroupSize: wg,
            subgroup: layout.subgroup,
            bindings: [
              { name: 'x', access: 'read', type: 'f32' },
              { name: 'g', access: 'read', type: 'f32' },
              { name: 'out', access: 'read_write', type: 'f32' },
            ],
            stateFields: 't: f32',
            init: 'State(0.0)',
            prelude: '  let gbase = p[3] + row * n;',
            load: 'x[base + j] * g[gbase + j]',
            step: '    st.t += v;',
            combine: '  return State(a.t + b.t);',
            finish: `  let obase = row * n;
  for (var j = lid; j < n; j += ${wg}u) {
    out[obase + j] = x[base + j] * (g[gbase + j] - total.t);
  }`,
          }),
        bindings: [sc.buffer, gc.buffer, out],
        params: new Uint32Array([rows, n, sc.offset, gc.offset]),
        workgroups: rowWorkgroups(rows, layout),
      });
    }),
  );
  return { buffer: out, shape, dtype: 'f32' };
}
