/**
 * The diverging colour scale every renderer shares: white at zero, red for positive relevance,
 * blue for negative, with intensity proportional to |R| / max|R|. Keeping it in one place means the
 * terminal, HTML and SVG heatmaps of one explanation read the same.
 */
import type { Explanation } from '../result.js';

/** An sRGB colour, 0–255 per channel. */
export interface Rgb {
  /** Red, 0–255. */
  r: number;
  /** Green, 0–255. */
  g: number;
  /** Blue, 0–255. */
  b: number;
}

const NEUTRAL: Rgb = { r: 255, g: 255, b: 255 };
const POSITIVE: Rgb = { r: 214, g: 39, b: 40 };
const NEGATIVE: Rgb = { r: 31, g: 119, b: 180 };
// NaN or ±Infinity means the propagation broke somewhere; grey keeps it visible without
// pretending it has a sign.
const NOT_FINITE: Rgb = { r: 160, g: 160, b: 160 };

/** Largest finite |value|, or 0 when there is none. */
export function relevanceScale(values: Iterable<number>): number {
  let max = 0;
  for (const v of values) {
    if (Number.isFinite(v) && Math.abs(v) > max) max = Math.abs(v);
  }
  return max;
}

/**
 * The scale an explanation's heatmap uses. Token and position relevance share it so that a
 * position cell as dark as a token cell carries as much relevance.
 */
export function explanationScale(e: Explanation): number {
  return relevanceScale(e.tokens.flatMap((t) => [t.token, t.position]));
}

/** |value| / scale clipped to [0, 1]; 0 for a zero scale or a value that is not finite. */
export function relevanceIntensity(value: number, scale: number): number {
  if (!Number.isFinite(value) || !(scale > 0)) return 0;
  return Math.min(1, Math.abs(value) / scale);
}

/**
 * The heatmap colour of `value`: white at 0, towards red (positive) or blue (negative) with
 * intensity |value| / scale, saturating beyond; grey for a value that is not finite.
 */
export function relevanceColor(value: number, scale: number): Rgb {
  if (!Number.isFinite(value)) return NOT_FINITE;
  const end = value < 0 ? NEGATIVE : POSITIVE;
  const t = relevanceIntensity(value, scale);
  return {
    r: Math.round(NEUTRAL.r + (end.r - NEUTRAL.r) * t),
    g: Math.round(NEUTRAL.g + (end.g - NEUTRAL.g) * t),
    b: Math.round(NEUTRAL.b + (end.b - NEUTRAL.b) * t),
  };
}

/** Black or white, whichever reads better on `background`. */
export function contrastingText(background: Rgb): Rgb {
  const luma = 0.299 * background.r + 0.587 * background.g + 0.114 * background.b;
  return luma < 140 ? { r: 255, g: 255, b: 255 } : { r: 0, g: 0, b: 0 };
}

/** `rgb(r, g, b)`, the form browsers also report from getComputedStyle. */
export function cssColor(c: Rgb): string {
  return `rgb(${c.r}, ${c.g}, ${c.b})`;
}
