/**
 * Copies a batch of matrices X[...batch, K, N] (any strided f32 view) into an rgba32float texture
 * array: texel (x, k, layer) = X[layer][k][4x … 4x+3], zero past column N. Matmul reads its B
 * operand this way on CPU adapters, where a texel fetch for a whole SIMD vector is far cheaper
 * than a lane-by-lane buffer load (kernels/matmul.ts).
 */
import { runtime } from './runtime.js';
import type { ScratchTexture } from './texturePool.js';
import { numel } from './shape.js';
import type { GpuView } from './view.js';
import { flatEntry, header, stridedOffsets, workgroupsFor } from './wgsl/common.js';

const P = { texels: 0, width: 1, K: 2, N: 3, sK: 4, sN: 5, offset: 6, batchShape: 7 } as const;

function packWgsl(rank: number): string {
  const body = [
    `  if (i >= p[${P.texels}u]) { return; }`,
    `  let width = p[${P.width}u]; let K = p[${P.K}u]; let N = p[${P.N}u];`,
    '  let x = i % width;',
    '  let rest = i / width;',
    '  let k = rest % K;',
    '  let layer = rest / K;',
    stridedOffsets({ flat: 'layer', rank, names: ['o'], shapeAt: P.batchShape, offsetsAt: P.offset, stridesAt: P.batchShape + rank }),
    `  let row = o + k * p[${P.sK}u];`,
    `  let sN = p[${P.sN}u];`,
    '  var t = vec4<f32>(0.0);',
    ...[0, 1, 2, 3].map((q) => `  if (x * 4u + ${q}u < N) { t[${q}] = X[row + (x * 4u + ${q}u) * sN]; }`),
    '  textureStore(T, vec2<u32>(x, k), layer, t);',
  ].join('\n');
  return [
    header([
      { name: 'X', access: 'read', type: 'f32' },
      { name: 'T', access: 'read_write', type: 'vec4<f32>', texture: true },
    ]),
    flatEntry(body),
  ].join('\n\n');
}

/**
 * Packs `x` [...batch, K, N] into a pooled texture of ⌈N/4⌉ × K texels and numel(batch) layers
 * (batch dims in row-major order; a broadcast dimension, stride 0, is copied into every layer). The caller releases the texture to `runtime().textures` once
 * the kernels that read it are recorded.
 */
export function packIntoTexture(x: GpuView): ScratchTexture {
  const rank = x.shape.length;
  const K = x.shape[rank - 2]!;
  const N = x.shape[rank - 1]!;
  const batch = x.shape.slice(0, -2);
  const layers = numel(batch);
  const width = Math.ceil(N / 4);
  const rt = runtime();
  const scratch = rt.textures.acquire(width, K, layers);
  const texels = width * K * layers;
  const rb = batch.length;
  const params = new Uint32Array(P.batchShape + 2 * rb);
  params[P.texels] = texels;
  params[P.width] = width;
  params[P.K] = K;
  params[P.N] = N;
  params[P.sK] = x.strides[rank - 2]!;
  params[P.sN] = x.strides[rank - 1]!;
  params[P.offset] = x.offset;
  params.set(batch, P.batchShape);
  params.set(x.strides.slice(0, -2), P.batchShape + rb);
  rt.dispatch({ key: `packTexture/b${rb}`, wgsl: () => packWgsl(rb), bindings: [x.buffer, { textureView: scratch.view }], params, workgroups: workgroupsFor(texels) });
  return scratch;
}
