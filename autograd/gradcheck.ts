/**
 * gradcheck: compares an op's GPU gradient with central finite differences of its float64 TS
 * reference. The loss is L = Σ w ⊙ f(x) for a fixed random w, so every output element matters.
 */
import type { RefTensor } from '../kernels/reference/tensor.js';
import { refTensor } from '../kernels/reference/tensor.js';
import { numel } from '../kernels/shape.js';
import { backward } from './backward.js';
import { Tensor } from './tensor.js';
import { seededUniform } from './rng.js';

export interface GradcheckInput {
  shape: number[];
  /** Values; random in [lo, hi] when omitted. */
  data?: ArrayLike<number>;
  lo?: number;
  hi?: number;
  /** Checked for a gradient (default true). */
  grad?: boolean;
}

export interface GradcheckCase {
  name: string;
  inputs: GradcheckInput[];
  gpu: (xs: Tensor[]) => Tensor;
  ref: (xs: RefTensor[]) => RefTensor;
  /** Finite-difference step in float64. */
  h?: number;
  rtol?: number;
  atol?: number;
  seed?: number;
}

export interface GradcheckReport {
  name: string;
  /** Largest |gpu − reference| of the forward output. */
  forwardError: number;
  /** Largest excess of |analytic − numeric| over atol + rtol·|numeric| (≤ 0 passes). */
  worstExcess: number;
  /** Where the worst gradient mismatch is, for the error message. */
  worst: { input: number; index: number; analytic: number; numeric: number } | null;
  ok: boolean;
}

export async function gradcheck(c: GradcheckCase): Promise<GradcheckReport> {
  const rand = seededUniform(c.seed ?? 1234);
  const { h = 1e-5, rtol = 2e-3, atol = 2e-4 } = c;
  // Inputs rounded to f32 so GPU and reference see the same values.
  const values = c.inputs.map((inp) => {
    const n = numel(inp.shape);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = inp.data ? inp.data[i]! : (inp.lo ?? -1) + ((inp.hi ?? 1) - (inp.lo ?? -1)) * rand();
    return v;
  });
  const tensors = c.inputs.map((inp, k) => Tensor.fromArray(values[k]!, inp.shape).setRequiresGrad(inp.grad !== false));
  const y = c.gpu(tensors);
  const refInputs = c.inputs.map((inp, k) => refTensor(inp.shape, values[k]!));
  const yRef = c.ref(refInputs);
  const yGpu = await y.toArray();
  let forwardError = 0;
  if (yGpu.length !== yRef.data.length) throw new Error(`${c.name}: GPU output has ${yGpu.length} elements, reference ${yRef.data.length}`);
  for (let i = 0; i < yGpu.length; i++) forwardError = Math.max(forwardError, Math.abs(yGpu[i]! - yRef.data[i]!));

  const w = new Float32Array(yGpu.length);
  for (let i = 0; i < w.length; i++) w[i] = rand() * 2 - 1;
  const seed = Tensor.fromArray(w, y.shape);
  backward(y, { seed });
  const loss = (xs: RefTensor[]): number => {
    const out = c.ref(xs);
    let s = 0;
    for (let i = 0; i < out.data.length; i++) s += w[i]! * out.data[i]!;
    return s;
  };

  let worstExcess = -Infinity;
  let worst: GradcheckReport['worst'] = null;
  for (let k = 0; k < c.inputs.length; k++) {
    if (c.inputs[k]!.grad === false) continue;
    const analytic = tensors[k]!.grad ? await tensors[k]!.grad!.toArray() : new Float32Array(values[k]!.length);
    const x = refInputs[k]!;
    for (let i = 0; i < x.data.length; i++) {
      const orig = x.data[i]!;
      x.data[i] = orig + h;
      const up = loss(refInputs);
      x.data[i] = orig - h;
      const down = loss(refInputs);
      x.data[i] = orig;
      const numeric = (up - down) / (2 * h);
      const excess = Math.abs(analytic[i]! - numeric) - (atol + rtol * Math.abs(numeric));
      if (excess > worstExcess || Number.isNaN(excess)) {
        worstExcess = Number.isNaN(excess) ? Infinity : excess;
        worst = { input: k, index: i, analytic: analytic[i]!, numeric };
      }
    }
  }
  for (const t of tensors) t.dispose();
  y.dispose();
  seed.dispose();
  return { name: c.name, forwardError, worstExcess, worst, ok: worstExcess <= 0 };
}
