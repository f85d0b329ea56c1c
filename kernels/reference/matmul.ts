/** Float64 reference of the batched matmul kernel (tests and gradcheck only). */
import { broadcastShapes, broadcastStrides, contiguousStrides, numel } from '../shape.js';
import { refPermute, refTensor, unravel, type RefTensor } from './tensor.js';

/** alpha · a[..., M, K] · b[..., K, N] (+ bias[N]) with NumPy broadcasting of the batch dims. */
export function refMatmul(a: RefTensor, b: RefTensor, alpha = 1, bias?: RefTensor): RefTensor {
  const [M, K] = a.shape.slice(-2) as [number, number];
  const [Kb, N] = b.shape.slice(-2) as [number, number];
  if (K !== Kb) throw new Error(`refMatmul: inner dimensions ${K} and ${Kb} differ`);
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = broadcastShapes('refMatmul', batchA, batchB);
  const stridesA = broadcastStrides(batchA, contiguousStrides(batchA), batch);
  const stridesB = broadcastStrides(batchB, contiguousStrides(batchB), batch);
  const out = refTensor([...batch, M, N]);
  for (let t = 0; t < numel(batch); t++) {
    const idx = unravel(t, batch);
    let oa = 0;
    let ob = 0;
    idx.forEach((v, d) => {
      oa += v * stridesA[d]!;
      ob += v * stridesB[d]!;
    });
    oa *= M * K;
    ob *= K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.data[oa + i * K + k]! * b.data[ob + k * N + j]!;
        out.data[t * M * N + i * N + j] = alpha * s + (bias ? bias.data[j]! : 0);
      }
    }
  }
  return out;
}

/** Swaps the last two dimensions. */
export function refTransposeLast(x: RefTensor): RefTensor {
  const r = x.shape.length;
  const dims = x.shape.map((_, i) => i);
  dims[r - 2] = r - 1;
  dims[r - 1] = r - 2;
  return refPermute(x, dims);
}

/** HF Linear: x[..., in] · weight[out, in]ᵀ + bias[out]. */
export function refLinear(x: RefTensor, weight: RefTensor, bias?: RefTensor): RefTensor {
  const inF = x.shape[x.shape.length - 1]!;
  const lead = x.shape.slice(0, -1);
  const y = refMatmul({ shape: [numel(lead), inF], data: x.data }, refTransposeLast(weight), 1, bias);
  return { shape: [...lead, weight.shape[0]!], data: y.data };
}
