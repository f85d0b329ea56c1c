/**
 * A standalone SVG heatmap: per token a cell coloured by token relevance (with the token's text)
 * over a thinner cell coloured by position relevance, wrapped into rows. Text widths are estimated
 * from a monospace font, since an SVG written outside a browser cannot measure text.
 */
import type { Explanation, TokenRelevance } from '../result.js';
import { contrastingText, cssColor, explanationScale, relevanceColor } from './color.js';
import { escapeMarkup } from './escape.js';
import {
  aggregationLabel,
  conservationSummary,
  displayToken,
  formatRelevance,
  headline,
  truncate,
} from './format.js';

const FONT_SIZE = 12;
const CHAR_WIDTH = 7.3; // advance of a 12px monospace glyph, with a little slack
const MAX_CHARS = 20;
const CELL_PADDING = 8;
const MIN_CELL = 28;
const TOKEN_HEIGHT = 22;
const POSITION_HEIGHT = 10;
const GAP = 3;
const ROW_GAP = 10;
const LABEL_WIDTH = 70;
const MARGIN = 12;
const MAX_WIDTH = 960;
const HEADER_HEIGHT = 62;
const SMALL_CHAR_WIDTH = 6.1; // advance of a 10px monospace glyph

interface Placed {
  t: TokenRelevance;
  text: string;
  x: number;
  y: number;
  w: number;
}

function place(tokens: TokenRelevance[]): { placed: Placed[]; rows: number; width: number } {
  const left = MARGIN + LABEL_WIDTH;
  const rowHeight = TOKEN_HEIGHT + POSITION_HEIGHT + ROW_GAP;
  const placed: Placed[] = [];
  let x = left;
  let rowIndex = 0;
  let widest = left;
  for (const t of tokens) {
    const text = truncate(displayToken(t.text), MAX_CHARS);
    const w = Math.max(MIN_CELL, Math.ceil(Array.from(text).length * CHAR_WIDTH) + CELL_PADDING);
    if (x > left && x + w > MAX_WIDTH - MARGIN) {
      x = left;
      rowIndex += 1;
    }
    placed.push({ t, text, x, y: HEADER_HEIGHT + rowIndex * rowHeight, w });
    x += w + GAP;
    widest = Math.max(widest, x);
  }
  return { placed, rows: tokens.length === 0 ? 0 : rowIndex + 1, width: Math.max(widest + MARGIN, 480) };
}

function cell(p: Placed, scale: number): string {
  const { t } = p;
  const tokenFill = relevanceColor(t.token, scale);
  const tip =
    `#${t.index} ${JSON.stringify(t.text)} (id ${t.id}): token ${formatRelevance(t.token)}, ` +
    `position ${formatRelevance(t.position)}, total ${formatRelevance(t.total)}`;
  return (
    `<g class="token" data-index="${t.index}">` +
    `<title>${escapeMarkup(tip)}</title>` +
    `<rect x="${p.x}" y="${p.y}" width="${p.w}" height="${TOKEN_HEIGHT}" fill="${cssColor(tokenFill)}"/>` +
    `<text x="${p.x + p.w / 2}" y="${p.y + TOKEN_HEIGHT / 2}" fill="${cssColor(contrastingText(tokenFill))}" ` +
    `text-anchor="middle" dominant-baseline="central" xml:space="preserve">${escapeMarkup(p.text)}</text>` +
    `<rect class="position" x="${p.x}" y="${p.y + TOKEN_HEIGHT}" width="${p.w}" height="${POSITION_HEIGHT}" ` +
    `fill="${cssColor(relevanceColor(t.position, scale))}"/>` +
    `</g>`
  );
}

export function renderSvg(e: Explanation): string {
  const scale = explanationScale(e);
  const summary = [conservationSummary(e), aggregationLabel(e)];
  const { placed, rows, width: cellsWidth } = place(e.tokens);
  const summaryWidth = 2 * MARGIN + Math.max(...summary.map((s) => Array.from(s).length)) * SMALL_CHAR_WIDTH;
  const width = Math.ceil(Math.max(cellsWidth, summaryWidth));
  const rowHeight = TOKEN_HEIGHT + POSITION_HEIGHT + ROW_GAP;
  const height = HEADER_HEIGHT + rows * rowHeight + MARGIN;
  const rowLabels: string[] = [];
  for (let r = 0; r < rows; r++) {
    const y = HEADER_HEIGHT + r * rowHeight;
    rowLabels.push(
      `<text x="${MARGIN}" y="${y + TOKEN_HEIGHT / 2}" dominant-baseline="central" fill="#555">token</text>` +
        `<text x="${MARGIN}" y="${y + TOKEN_HEIGHT + POSITION_HEIGHT / 2}" dominant-baseline="central" ` +
        `fill="#555" font-size="9">position</text>`,
    );
  }
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, monospace" font-size="${FONT_SIZE}">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="${MARGIN}" y="18" font-weight="bold">${escapeMarkup(`transformer-lrp · ${headline(e)}`)}</text>
<text x="${MARGIN}" y="34" fill="#555" font-size="10">${escapeMarkup(summary[0]!)}</text>
<text x="${MARGIN}" y="48" fill="#555" font-size="10">${escapeMarkup(summary[1]!)}</text>
${rowLabels.join('\n')}
${placed.map((p) => cell(p, scale)).join('\n')}
</svg>
`;
}
