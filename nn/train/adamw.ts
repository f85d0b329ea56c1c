/**
 * AdamW (Loshchilov & Hutter) on the host, in float64, with gradient clipping by global norm.
 * The models trained here are tiny (≈10⁵ parameters), so one read of all gradients and one upload
 * of all weights per step cost less than the dozens of extra dispatches a GPU update would take,
 * and the optimiser's state is exact and easy to save for `--resume`.
 */

/** AdamW's hyperparameters; the defaults are PyTorch's. */
export interface AdamWOptions {
  /** Decay of the first moment; default 0.9. */
  beta1?: number;
  /** Decay of the second moment; default 0.999. */
  beta2?: number;
  /** Added to √v; default 1e-8. */
  eps?: number;
  /** Decoupled weight decay per unit learning rate; default 0.01. */
  weightDecay?: number;
}

/** AdamW's state, saved beside a checkpoint for `--resume`. */
export interface AdamWState {
  /** Updates taken. */
  step: number;
  /** First moments, one array per parameter. */
  m: Float64Array[];
  /** Second moments, one array per parameter. */
  v: Float64Array[];
}

/** Scales the gradients in place so their global L2 norm is at most `maxNorm`; returns the norm before clipping. */
export function clipGlobalNorm(grads: readonly Float32Array[], maxNorm: number): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  const norm = Math.sqrt(sq);
  if (norm > maxNorm && norm > 0) {
    const f = maxNorm / norm;
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = g[i]! * f;
  }
  return norm;
}

/** AdamW on the host (float64 moments) over flat parameter arrays. */
export class AdamW {
  /** Decay of the first moment. */
  readonly beta1: number;
  /** Decay of the second moment. */
  readonly beta2: number;
  /** Added to √v. */
  readonly eps: number;
  /** Decoupled weight decay per unit learning rate. */
  readonly weightDecay: number;
  /** Moments and step count (replaceable to resume). */
  state: AdamWState;

  /** @param sizes element count of each parameter; @param decays whether each one gets weight decay */
  constructor(sizes: readonly number[], readonly decays: readonly boolean[], o: AdamWOptions = {}) {
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0.01;
    this.state = { step: 0, m: sizes.map((n) => new Float64Array(n)), v: sizes.map((n) => new Float64Array(n)) };
  }

  /** One update of `params` in place (rounded to float32) with learning rate `lr`. */
  step(params: Float32Array[], grads: readonly Float32Array[], lr: number): void {
    const s = this.state;
    s.step++;
    const c1 = 1 - this.beta1 ** s.step;
    const c2 = 1 - this.beta2 ** s.step;
    params.forEach((p, k) => {
      const g = grads[k]!;
      const m = s.m[k]!;
      const v = s.v[k]!;
      const decay = this.decays[k] ? 1 - lr * this.weightDecay : 1;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]!;
        m[i] = this.beta1 * m[i]! + (1 - this.beta1) * gi;
        v[i] = this.beta2 * v[i]! + (1 - this.beta2) * gi * gi;
        const update = m[i]! / c1 / (Math.sqrt(v[i]! / c2) + this.eps);
        p[i] = p[i]! * decay - lr * update;
      }
    });
  }
}
