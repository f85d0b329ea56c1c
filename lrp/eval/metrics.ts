/**
 * The numbers of the perturbation protocols: step sizes, softmax, the per-step measures and the
 * areas under the curves (trapezoid rule over the perturbed fraction, so a flat curve at value v
 * has area v).
 */

/** The fractions 0, 1/steps, ..., 1 at which a curve is measured. */
export function fractions(steps: number): number[] {
  return Array.from({ length: steps + 1 }, (_, k) => k / steps);
}

/**
 * How many of `count` tokens are perturbed at step k of `steps`: ceil(k/steps · count), computed
 * in integers so that e.g. 0.3 · 10 does not round up to 4.
 */
export function perturbedCount(k: number, steps: number, count: number): number {
  return Math.ceil((k * count) / steps);
}

/** Trapezoid rule: ∫ y dx over the points (xs[i], ys[i]). */
export function trapezoid(ys: readonly number[], xs: readonly number[]): number {
  if (ys.length !== xs.length) throw new Error(`trapezoid: ${ys.length} values for ${xs.length} abscissae`);
  let area = 0;
  for (let i = 1; i < ys.length; i++) area += ((xs[i]! - xs[i - 1]!) * (ys[i]! + ys[i - 1]!)) / 2;
  return area;
}

/** Numerically stable softmax in float64. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const e = Array.from({ length: logits.length }, (_, i) => Math.exp(logits[i]! - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/** ‖a − b‖², the squared distance between the unperturbed and the perturbed output logits. */
export function squaredDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`squaredDistance: lengths ${a.length} and ${b.length} differ`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** One curve: the three measures at every step. */
export interface Curve {
  /** Softmax probability of the true class. */
  probability: number[];
  /** Logit of the true class. */
  logit: number[];
  /** ‖y₀ − y‖² over all output logits. */
  mse: number[];
}

export const PROTOCOLS = ['generate', 'pruning', 'morf', 'lerf'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export type Curves = Record<Protocol, Curve>;

/** The areas the papers report, plus the MoRF/LeRF logit areas and their gap. */
export interface Areas {
  /** Generate (insertion), probability: higher is better. */
  auac: number;
  /** Pruning, probability: higher is better. */
  aupc: number;
  /** Pruning, ‖y₀ − y‖²: lower is better. */
  auMse: number;
  /** MoRF, logit: lower is better. */
  morf: number;
  /** LeRF, logit: higher is better. */
  lerf: number;
  /** LeRF − MoRF: higher is better. */
  gap: number;
}

export const AREA_KEYS = ['auac', 'aupc', 'auMse', 'morf', 'lerf', 'gap'] as const satisfies readonly (keyof Areas)[];

export function areas(curves: Curves, xs: readonly number[]): Areas {
  const morf = trapezoid(curves.morf.logit, xs);
  const lerf = trapezoid(curves.lerf.logit, xs);
  return {
    auac: trapezoid(curves.generate.probability, xs),
    aupc: trapezoid(curves.pruning.probability, xs),
    auMse: trapezoid(curves.pruning.mse, xs),
    morf,
    lerf,
    gap: lerf - morf,
  };
}
