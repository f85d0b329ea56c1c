/**
 * Standalone SVG figures: one explanation as a heatmap (token cell over a position strip per
 * token, a colour bar), or several methods' explanations of one input side by side, columns
 * aligned. See figure.ts for the layout and FigureOptions for scale modes, numbers and words.
 */
import type { Explanation } from '../result.js';
import { renderFigureSvg, type FigureOptions } from './figure.js';

export type { FigureOptions } from './figure.js';

/**
 * A standalone SVG heatmap of one explanation: a token cell over a position strip per token, and a colour bar.
 */
export function renderSvg(e: Explanation, options: FigureOptions = {}): string {
  return renderFigureSvg([e], options);
}

/** Several explanations of the same input (e.g. one per method), one row each, columns aligned. */
export function renderSvgComparison(explanations: Explanation[], options: FigureOptions = {}): string {
  return renderFigureSvg(explanations, options);
}
