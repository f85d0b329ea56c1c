/**
 * How a figure maps relevance to colour intensity. With a plain ±max scale the predicting position
 * (the last token of a causal LM, the CLS token of a classifier) often carries most of the
 * relevance and washes every other cell out; a percentile clip or a scale that leaves that
 * position out keeps the rest readable. Cells beyond the scale saturate, and the colour bar says so.
 */
import { InputError } from '../../kernels/errors.js';
import type { Explanation } from '../result.js';

/** How relevance maps to colour: which |R| gets full colour (larger values saturate). */
export type ScaleMode =
  /** ±max |R| over every token and position cell. */
  | { kind: 'max' }
  /** ±the given percentile (0-100] of |R| over the cells. */
  | { kind: 'percentile'; percentile: number }
  /** ±max |R| over the cells of every position but the predicting one. */
  | { kind: 'exclude-predicting' };

/** The default scale: ±max |R| over every cell. */
export const MAX_SCALE: ScaleMode = { kind: 'max' };

/** Parses `max`, `pNN` (e.g. `p99`, `p99.5`) or `exclude-predicting`. */
export function parseScaleMode(text: string): ScaleMode {
  if (text === 'max') return MAX_SCALE;
  if (text === 'exclude-predicting') return { kind: 'exclude-predicting' };
  const m = /^p(\d+(?:\.\d+)?)$/.exec(text);
  if (m) {
    const percentile = Number(m[1]);
    if (percentile > 0 && percentile <= 100) return { kind: 'percentile', percentile };
  }
  throw new InputError(`scale "${text}": expected max, pNN with 0 < NN <= 100 (e.g. p99), or exclude-predicting`);
}

/** Encoder families read their prediction at the first (CLS) position; causal LMs at the last. */
const CLS_PREDICTING = new Set(['bert', 'vit', 'roberta', 'distilbert']);

/** The index of the position whose hidden state the explained logit is read from. */
export function predictingIndex(e: Explanation): number {
  if (e.tokens.length === 0) return -1;
  const first = e.tokens[0]!;
  if (first.id === -1 || CLS_PREDICTING.has(e.details?.modelType ?? '')) return first.index;
  return e.tokens[e.tokens.length - 1]!.index;
}

/** A figure's colour scale, resolved for one explanation. */
export interface FigureScale {
  /** |R| that maps to full colour; larger values saturate. */
  value: number;
  /** How many cells lie beyond the scale (drawn saturated). */
  clipped: number;
  /** Words for the colour bar, e.g. "99th percentile of |R|". */
  label: string;
}

function magnitudes(e: Explanation, skip: number): number[] {
  const out: number[] = [];
  for (const t of e.tokens) {
    if (t.index === skip) continue;
    for (const v of [t.token, t.position]) if (Number.isFinite(v)) out.push(Math.abs(v));
  }
  return out;
}

/** Linear interpolation between order statistics, as numpy's default percentile does. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/**
 * Resolves `mode` for an explanation: the |R| of full colour, how many cells exceed it and the
 * label the colour bar shows.
 */
export function figureScale(e: Explanation, mode: ScaleMode = MAX_SCALE): FigureScale {
  const all = magnitudes(e, Number.NaN);
  let value: number;
  let label: string;
  switch (mode.kind) {
    case 'max':
      value = all.length ? Math.max(...all) : 0;
      label = 'max |R|';
      break;
    case 'percentile':
      value = percentile(all, mode.percentile);
      label = `${mode.percentile}th percentile of |R|`;
      break;
    case 'exclude-predicting': {
      const skip = predictingIndex(e);
      const rest = magnitudes(e, skip);
      value = rest.length ? Math.max(...rest) : 0;
      label = `max |R| without position ${skip}`;
      break;
    }
  }
  const clipped = value > 0 ? all.filter((v) => v > value * (1 + 1e-12)).length : 0;
  return { value, clipped, label };
}
