/** Float64 references of the packed matmul operand's texture layout (tests only). */
import { refTensor, type RefTensor } from './tensor.js';

/**
 * The texels `packIntoTexture` writes for x [...batch, K, N], flattened layer by layer, row k by
 * row, texel by texel, 4 components each: texel (t, k, layer) = x[layer][k][4t … 4t+3], zero
 * past column N.
 */
export function refPackTexture(x: RefTensor): Float64Array {
  const rank = x.shape.length;
  const [K, N] = [x.shape[rank - 2]!, x.shape[rank - 1]!];
  const width = Math.ceil(N / 4);
  const layers = x.data.length / (K * N) || 0;
  const out = new Float64Array(layers * K * width * 4);
  for (let l = 0; l < layers; l++) {
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) out[((l * K + k) * width + Math.floor(n / 4)) * 4 + (n % 4)] = x.data[(l * K + k) * N + n]!;
    }
  }
  return out;
}

/**
 * `elementwiseColumnsIntoTexture`: v = f(inputs) over [rows, cols] (inputs contiguous, one shape),
 * the texels of vᵀ as `packIntoTexture` lays them out (texel (t, j) = v[4t … 4t+3][j], zero past
 * the last row) and the column sums of v.
 */
export function refColumnsIntoTexture(
  f: (args: number[], scalars: number[]) => number,
  inputs: readonly RefTensor[],
  scalars: readonly number[],
): { texels: Float64Array; sums: Float64Array } {
  const [rows, cols] = inputs[0]!.shape as [number, number];
  const transposed = refTensor([cols, rows]);
  const sums = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const v = f(
        inputs.map((t) => t.data[r * cols + j]!),
        [...scalars],
      );
      transposed.data[j * rows + r] = v;
      sums[j]! += v;
    }
  }
  return { texels: refPackTexture(transposed), sums };
}
