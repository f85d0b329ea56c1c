/**
 * Copies a batch of matrices X[...batch, K, N] (any strided view of f32, or of 16-bit floats widened
 * as they are read) into an rgba32float texture
 * array: texel (x, k, layer) = X[layer][k][4x … 4x+3], zero past column N. Matmul reads its
 * packed operand this way on CPU adapters, where reading a texel for a whole SIMD vector is
 * cheaper than a lane-by-lane buffer load (kernels/matmul/readers/textureB.ts).
 *
 * Each invocation fills a column of `ROWS_PER_INVOCATION` texels, so the index arithmetic (integer
 * division, scalarised per lane on lavapipe) is paid once per column. How it reads X depends on
 * the view: vec4 loads along N when X is contiguous along N ('n4'), vec4 loads along K and a 4×4
 * transpose in registers when X is contiguous along K ('k4': a transposed weight, or A packed for
 * Cᵀ = Bᵀ·Aᵀ), else four scalar loads per texel.
 */
import { runtime } from './runtime.js';
import type { ScratchTexture } from './texturePool.js';
import { numel } from './shape.js';
import type { GpuView } from './view.js';
import { flatEntry, header, stridedOffsets, workgroupsFor } from './wgsl/common.js';
import { halfDecoder, halfQuadDecoder, loadElement, quadDecoderName } from './wgsl/half.js';
import { isHalf, type DType } from './view.js';

type PackLayout = 'n4' | 'k4' | 'scalar';

const ROWS_PER_INVOCATION = 16;
const WORKGROUP = 64;
const P = { invocations: 0, width: 1, K: 2, N: 3, sK: 4, sN: 5, offset: 6, chunks: 7, batchShape: 8 } as const;

function packWgsl(layout: PackLayout, rank: number, dtype: DType): string {
  // Four elements at a vec4-unit index, or one at an element index, as f32 whatever X stores.
  const quad = (index: string): string => (isHalf(dtype) ? `${quadDecoderName(dtype)}(X[${index}])` : `X[${index}]`);
  const one = (index: string): string => loadElement(dtype, 'X', index);
  const loadRow = (k: string): string[] => {
    if (layout === 'n4') return [`    let t = ${quad(`(row0 + (${k}) * sK) / 4u + x`)};`];
    return [
      '    var t = vec4<f32>(0.0);',
      ...[0, 1, 2, 3].map((q) => `    if (n0 + ${q}u < N) { t[${q}] = ${one(`row0 + (${k}) * sK + (n0 + ${q}u) * sN`)}; }`),
    ];
  };
  const lines = [
    `  if (i >= p[${P.invocations}u]) { return; }`,
    `  let width = p[${P.width}u]; let K = p[${P.K}u]; let N = p[${P.N}u]; let sK = p[${P.sK}u]; let sN = p[${P.sN}u];`,
    // Neighbouring lanes take neighbouring reads: along N for 'n4'/'scalar', along K for 'k4'.
    ...(layout === 'k4'
      ? [`  let k0 = (i % p[${P.chunks}u]) * ${ROWS_PER_INVOCATION}u;`, `  let rest = i / p[${P.chunks}u];`, '  let x = rest % width;', '  let layer = rest / width;']
      : ['  let x = i % width;', '  let rest = i / width;', `  let k0 = (rest % p[${P.chunks}u]) * ${ROWS_PER_INVOCATION}u;`, `  let layer = rest / p[${P.chunks}u];`]),
    stridedOffsets({ flat: 'layer', rank, names: ['o'], shapeAt: P.batchShape, offsetsAt: P.offset, stridesAt: P.batchShape + rank }),
    '  let n0 = x * 4u;',
    '  let row0 = o;',
    `  let kEnd = min(k0 + ${ROWS_PER_INVOCATION}u, K);`,
  ];
  if (layout === 'k4') {
    // Rows n0 … n0+3 of the transposed view are columns of X contiguous along K: read 4 steps of K
    // from each, transpose, store 4 texels. K % 4 == 0 here.
    lines.push(
      ...[0, 1, 2, 3].map((q) => `  let col${q} = (row0 + min(n0 + ${q}u, N - 1u) * sN) / 4u;`),
      ...[0, 1, 2, 3].map((q) => `  let keep${q} = n0 + ${q}u < N;`),
      '  for (var k = k0; k < kEnd; k += 4u) {',
      ...[0, 1, 2, 3].map((q) => `    let v${q} = select(vec4<f32>(0.0), ${quad(`col${q} + k / 4u`)}, keep${q});`),
      ...[0, 1, 2, 3].map((kk) => `    textureStore(T, vec2<u32>(x, k + ${kk}u), layer, vec4<f32>(v0[${kk}], v1[${kk}], v2[${kk}], v3[${kk}]));`),
      '  }',
    );
  } else {
    lines.push('  for (var k = k0; k < kEnd; k++) {', ...loadRow('k'), '    textureStore(T, vec2<u32>(x, k), layer, t);', '  }');
  }
  const xType = isHalf(dtype) ? (layout === 'scalar' ? 'u32' : 'vec2<u32>') : layout === 'scalar' ? 'f32' : 'vec4<f32>';
  return [
    header([
      { name: 'X', access: 'read', type: xType },
      { name: 'T', access: 'read_write', type: 'vec4<f32>', texture: true },
    ]),
    ...(isHalf(dtype) ? [halfDecoder(dtype), halfQuadDecoder(dtype)] : []),
    flatEntry(lines.join('\n'), WORKGROUP),
  ].join('\n\n');
}

/** vec4 reads need aligned offsets and strides, and whole vectors along the contiguous dimension. */
function packLayout(x: GpuView, K: number, N: number): PackLayout {
  const rank = x.shape.length;
  const sK = x.strides[rank - 2]!;
  const sN = x.strides[rank - 1]!;
  const aligned = [x.offset, ...x.strides.slice(0, -2)].every((v) => v % 4 === 0);
  if (aligned && (sN === 1 || N === 1) && N % 4 === 0 && sK % 4 === 0) return 'n4';
  // A 0 stride (K = 1 or a broadcast row) cannot be read as vectors along K.
  if (aligned && sK === 1 && K % 4 === 0 && sN % 4 === 0 && sN !== 0) return 'k4';
  return 'scalar';
}

/**
 * Packs `x` [...batch, K, N] into a pooled texture of ⌈N/4⌉ × K texels and numel(batch) layers
 * (batch dims in row-major order; a broadcast dimension, stride 0, is copied into every layer).
 * The caller releases the texture to `runtime().textures` once the kernels that read it are recorded.
 */
export function packIntoTexture(x: GpuView): ScratchTexture {
  if (x.dtype === 'i32') throw new Error('packIntoTexture: i32 values cannot be packed into a float texture');
  const rank = x.shape.length;
  const K = x.shape[rank - 2]!;
  const N = x.shape[rank - 1]!;
  const batch = x.shape.slice(0, -2);
  const layers = numel(batch);
  const width = Math.ceil(N / 4);
  const rt = runtime();
  const scratch = rt.textures.acquire(width, K, layers);
  const layout = packLayout(x, K, N);
  const chunks = Math.ceil(K / ROWS_PER_INVOCATION);
  const invocations = width * chunks * layers;
  const rb = batch.length;
  const params = new Uint32Array(P.batchShape + 2 * rb);
  params[P.invocations] = invocations;
  params[P.width] = width;
  params[P.K] = K;
  params[P.N] = N;
  params[P.sK] = x.strides[rank - 2]!;
  params[P.sN] = x.strides[rank - 1]!;
  params[P.offset] = x.offset;
  params[P.chunks] = chunks;
  params.set(batch, P.batchShape);
  params.set(x.strides.slice(0, -2), P.batchShape + rb);
  rt.dispatch({
    key: `packTexture/${layout}/b${rb}${x.dtype === 'f32' ? '' : `/${x.dtype}`}`,
    wgsl: () => packWgsl(layout, rb, x.dtype),
    bindings: [x.buffer, { textureView: scratch.view }],
    params,
    workgroups: workgroupsFor(invocations, WORKGROUP),
  });
  return scratch;
}
