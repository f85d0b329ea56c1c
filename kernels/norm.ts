/**
 * LayerNorm and RMSNorm over the last axis: one row-kernel template (softmax.ts) with a
 * parameter for centering and one for the affine part. LayerNorm is
 * y = (x − μ)·rsqrt(var + eps)·w + b with the population variance; RMSNorm (HF LLaMA) is
 * y = x·rsqrt(mean(x²) + eps)·w. The same template writes the statistics alone (`normStats`).
 */
import { runtime } from './runtime.js';
import { numel, shapeToString } from './shape.js';
import { allocate, f32Bits, type GpuView, type KernelOutput } from './view.js';
import { NAN_HELPER, type BindingDecl } from './wgsl/common.js';
import { checkWorkgroupSize, rowKernelWgsl, rowLayout, rowLayoutKey, rowsOf, rowWorkgroups, withContiguous, type RowLayout } from './softmax.js';

export interface NormOptions {
  /** Subtract the row mean (LayerNorm) or not (RMSNorm). */
  center: boolean;
  eps: number;
  /** [n] scale, any stride; none = 1. */
  weight?: GpuView | null;
  /** [n] shift, any stride; none = 0 (only with center in practice, but not required). */
  bias?: GpuView | null;
  /** Overrides `rowWorkgroupSize` (1-256). */
  workgroupSize?: number;
}

interface Variant {
  center: boolean;
  /** 'y': the normalised output; 'stats': rstd per row (and the mean when centering). */
  output: 'y' | 'stats';
  weight: boolean;
  bias: boolean;
  layout: RowLayout;
}

/**
 * Parameter words: rows, n, x offset, eps (f32), weight offset, weight stride, bias offset,
 * bias stride. State: element count, mean, and M2 (Σ (v − mean)² when centering, Σ v²
 * otherwise). Centering folds with Welford per invocation and Chan's pairwise formula across
 * the workgroup, on values shifted by the row's first element (`pivot`): with the data near
 * 1e4 and a spread near 1, the running mean of unshifted f32 values drifts by ulps of 1e4,
 * while `v − pivot` is exact for nearby values and keeps the whole fold at the spread's scale.
 */
/** Folds row element `v` into `st` (count, mean, m2): Welford when centering, Σ v² otherwise. */
function foldStep(center: boolean): string {
  return center
    ? `    st.count += 1.0;
    let d = v - st.mean;
    st.mean += d / st.count;
    st.m2 += d * (v - st.mean);`
    : `    st.count += 1.0;
    st.m2 += v * v;`;
}

/** Combines states a and b (Chan's pairwise formula when centering); `extra` lists further fields' combined values. */
function foldCombine(center: boolean, extra: string): string {
  return center
    ? `  let count = a.count + b.count;
  if (count == 0.0) { return a; }
  let d = b.mean - a.mean;
  let wb = b.count / count;
  return State(count, a.mean + d * wb, a.m2 + b.m2 + d * d * a.count * wb${extra});`
    : `  return State(a.count + b.count, 0.0, a.m2 + b.m2${extra});`;
}

function normWgsl(v: Variant): string {
  const bindings: BindingDecl[] = [{ name: 'x', access: 'read', type: 'f32' }];
  if (v.output === 'y') {
    if (v.weight) bindings.push({ name: 'w', access: 'read', type: 'f32' });
    if (v.bias) bindings.push({ name: 'b', access: 'read', type: 'f32' });
    bindings.push({ name: 'out', access: 'read_write', type: 'f32' });
  } else {
    if (v.center) bindings.push({ name: 'mean_out', access: 'read_write', type: 'f32' });
    bindings.push({ name: 'rstd_out', access: 'read_write', type: 'f32' });
  }
  const step = foldStep(v.center);
  const combine = foldCombine(v.center, '');
  let y = v.center ? '(v - pivot - total.mean) * rstd' : 'v * rstd';
  if (v.weight) y += ' * w[p[4] + j * p[5]]';
  if (v.bias) y += ' + b[p[6] + j * p[7]]';
  const write =
    v.output === 'y'
      ? `  let obase = row * n;
  for (var j = lid; j < n; j += ${v.layout.lanes}u) {
    let v = x[base + j];
    out[obase + j] = ${y};
  }`
      : `  if (lid == 0u) {
${v.center ? '    mean_out[row] = mean;\n' : ''}    rstd_out[row] = rstd;
  }`;
  return rowKernelWgsl({
    workgroupSize: v.layout.lanes,
    subgroup: v.layout.subgroup,
    bindings,
    stateFields: 'count: f32, mean: f32, m2: f32',
    init: 'State(0.0, 0.0, 0.0)',
    prelude: v.center ? '  let pivot = select(0.0, x[base], n > 0u);' : '',
    load: v.center ? 'x[base + j] - pivot' : 'x[base + j]',
    step,
    combine,
    // A row whose squares overflow f32 (an element near 1e20 or more) has an infinite M2, and
    // rsqrt(∞) = 0 would make its output silently 0: NaN instead, which the forward's finite
    // check reports with the layer. (Bits, not a compare: lavapipe folds NaN compares away.)
    finish: `  let eps = bitcast<f32>(p[3]);
  let rstd = select(inverseSqrt(total.m2 / f32(n) + eps), nan_f32(), (bitcast<u32>(total.m2) & 0x7f800000u) == 0x7f800000u);
${v.center ? '  let mean = select(pivot + total.mean, nan_f32(), n == 0u);\n' : ''}${write}`,
    functions: [NAN_HELPER],
  });
}

function checkParam(op: string, what: string, x: GpuView, param: GpuView | null | undefined, n: number): void {
  if (!param) return;
  if (param.dtype !== 'f32' || param.shape.length !== 1 || param.shape[0] !== n) {
    throw new Error(
      `${op}: ${what} of shape ${shapeToString(param.shape)} (${param.dtype}) does not match x of shape ${shapeToString(x.shape)}: ` +
        `expected an f32 vector of shape [${n}]`,
    );
  }
}

function launch(op: string, x: GpuView, v: Variant, eps: number, outputs: GPUBuffer[], rows: number, n: number, weight?: GpuView | null, bias?: GpuView | null): void {
  const key = `rows/norm/${v.center ? 'center' : 'rms'}/${v.output}/${v.weight ? 'w' : ''}${v.bias ? 'b' : ''}/${rowLayoutKey(v.layout)}`;
  withContiguous(x, (xc) => {
    runtime().dispatch({
      key,
      wgsl: () => normWgsl(v),
      bindings: [xc.buffer, ...(weight ? [weight.buffer] : []), ...(bias ? [bias.buffer] : []), ...outputs],
      params: new Uint32Array([
        rows,
        n,
        xc.offset,
        f32Bits(eps),
        weight?.offset ?? 0,
        weight?.strides[0] ?? 0,
        bias?.offset ?? 0,
        bias?.strides[0] ?? 0,
      ]),
      workgroups: rowWorkgroups(rows, v.layout),
    });
  });
}

function checkX(op: string, x: GpuView): void {
  if (x.dtype !== 'f32') throw new Error(`${op}: expects an f32 tensor, got ${x.dtype} of shape ${shapeToString(x.shape)}`);
  if (x.shape.length === 0) throw new Error(`${op}: expects at least one dimension, got a 0-d tensor`);
}

/** Normalises the last axis of `x` (LayerNorm when `center`, else RMSNorm), then applies weight and bias. */
export function normRows(op: string, x: GpuView, opts: NormOptions): KernelOutput {
  checkX(op, x);
  const shape = [...x.shape];
  const { rows, n } = rowsOf(shape);
  checkParam(op, 'weight', x, opts.weight, n);
  checkParam(op, 'bias', x, opts.bias, n);
  const out = allocate(op, shape, 'f32');
  if (rows > 0) {
    const v: Variant = { center: opts.center, output: 'y', weight: !!opts.weight, bias: !!opts.bias, layout: rowLayout(n, checkWorkgroupSize(op, opts.workgroupSize)) };
    launch(op, x, v, opts.eps, [out], rows, n, opts.weight, opts.bias);
  }
  return { buffer: out, shape, dtype: 'f32' };
}

/**
 * Row statistics, shaped like `x` with the last axis kept as 1: `rstd` = rsqrt(var + eps)
 * (centred) or rsqrt(mean(x²) + eps), and `mean` when `center` (else null). Rows of length 0
 * give NaN for both, like the mean of nothing.
 */
export function normStats(op: string, x: GpuView, center: boolean, eps: number, workgroupSize?: number): { mean: KernelOutput | null; rstd: KernelOutput } {
  checkX(op, x);
  const n = x.shape[x.shape.length - 1]!;
  const shape = [...x.shape.slice(0, -1), 1];
  const rows = numel(shape);
  const mean = center ? allocate(op, shape, 'f32') : null;
  const rstd = allocate(op, shape, 'f32');
  if (rows > 0) {
    const v: Variant = { center, output: 'stats', weight: false, bias: false, layout: rowLayout(n, checkWorkgroupSize(op, workgroupSize)) };
    launch(op, x, v, eps, mean ? [mean, rstd] : [rstd], rows, n);
  }
  return { mean: mean && { buffer: mean, shape, dtype: 'f32' }, rstd: { buffer: rstd, shape: [...shape], dtype: 'f32' } };
}

/**
 * The input gradient of a norm whose scale r = rsqrt(var + eps) (or rsqrt(mean(x²) + eps)) is
 * held constant, in one row kernel: r ⊙ (g ⊙ w − mean_row(g ⊙ w)) when centering, r ⊙ g ⊙ w
 * otherwise. The "norm scale detached" LRP rule of CP-LRP and AttnLRP; as separate kernels it
 * was the statistics, a product, a mean, a difference and a product. With `addend` (x's shape),
 * the kernel writes addend + that gradient: the gradient already accumulated for x (the residual
 * stream's identity path) folded in without an add of its own.
 */
export function normScaleDetachedGrad(
  x: GpuView,
  g: GpuView,
  opts: { center: boolean; eps: number; weight?: GpuView | null; addend?: GpuView | null; workgroupSize?: number },
): KernelOutput {
  const op = 'normScaleDetachedGrad';
  checkX(op, x);
  if (g.dtype !== 'f32' || g.shape.length !== x.shape.length || g.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`${op}: the gradient ${g.dtype}${shapeToString(g.shape)} does not match x ${shapeToString(x.shape)}`);
  }
  const addend = opts.addend ?? null;
  if (addend && (addend.dtype !== 'f32' || addend.shape.length !== x.shape.length || addend.shape.some((d, i) => d !== x.shape[i]))) {
    throw new Error(`${op}: the addend ${addend.dtype}${shapeToString(addend.shape)} does not match x ${shapeToString(x.shape)}`);
  }
  const shape = [...x.shape];
  const { rows, n } = rowsOf(shape);
  checkParam(op, 'weight', x, opts.weight, n);
  const out = allocate(op, shape, 'f32');
  if (rows === 0) return { buffer: out, shape, dtype: 'f32' };
  const { center } = opts;
  const weight = opts.weight ?? null;
  const layout = rowLayout(n, checkWorkgroupSize(op, opts.workgroupSize));
  const wg = layout.lanes;
  const gw = weight ? 'g[gbase + j] * w[p[5] + j * p[6]]' : 'g[gbase + j]';
  const wgsl = (): string =>
    rowKernelWgsl({
      workgroupSize: wg,
      subgroup: layout.subgroup,
      bindings: [
        { name: 'x', access: 'read', type: 'f32' },
        { name: 'g', access: 'read', type: 'f32' },
        ...(weight ? [{ name: 'w', access: 'read' as const, type: 'f32' }] : []),
        ...(addend ? [{ name: 'prior', access: 'read' as const, type: 'f32' }] : []),
        { name: 'out', access: 'read_write', type: 'f32' },
      ],
      // count, mean, m2 of x (as normRows folds them) and Σ g ⊙ w.
      stateFields: 'count: f32, mean: f32, m2: f32, sgw: f32',
      init: 'State(0.0, 0.0, 0.0, 0.0)',
      prelude: `${center ? '  let pivot = select(0.0, x[base], n > 0u);\n' : ''}  let gbase = p[4] + row * n;`,
      load: center ? 'x[base + j] - pivot' : 'x[base + j]',
      step: `${foldStep(center)}\n    st.sgw += ${gw};`,
      combine: foldCombine(center, ', a.sgw + b.sgw'),
      finish: `  let eps = bitcast<f32>(p[3]);
  let rstd = inverseSqrt(total.m2 / f32(n) + eps);
  let centre = ${center ? 'total.sgw / f32(n)' : '0.0'};
  let obase = row * n;
  for (var j = lid; j < n; j += ${wg}u) {
    out[obase + j] = rstd * (${gw} - centre)${addend ? ' + prior[p[7] + obase + j]' : ''};
  }`,
    });
  // Without an addend, x stands in for it (never read): one code path.
  withContiguous(x, (xc) =>
    withContiguous(g, (gc) =>
      withContiguous(addend ?? xc, (ac) => {
        runtime().dispatch({
          key: `rows/normScaleDetachedGrad/${center ? 'center' : 'rms'}/${weight ? 'w' : ''}${addend ? '/add' : ''}/${rowLayoutKey(layout)}`,
          wgsl,
          bindings: [xc.buffer, gc.buffer, ...(weight ? [weight.buffer] : []), ...(addend ? [ac.buffer] : []), out],
          params: new Uint32Array([rows, n, xc.offset, f32Bits(opts.eps), gc.offset, weight?.offset ?? 0, weight?.strides[0] ?? 0, addend ? ac.offset : 0]),
          workgroups: rowWorkgroups(rows, layout),
        });
      }),
    ),
  );
  return { buffer: out, shape, dtype: 'f32' };
}
