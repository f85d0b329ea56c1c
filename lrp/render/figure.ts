/**
 * The SVG figure behind `renderSvg` and `renderSvgComparison`: for one or several explanations of
 * the same input, a token cell over a position strip per token (optionally the two numbers below),
 * wrapped into bands whose columns line up across methods, with a colour bar. Text widths are
 * estimated from a monospace font, since an SVG written outside a browser cannot measure text.
 */
import type { Explanation, TokenRelevance } from '../result.js';
import { contrastingText, cssColor, relevanceColor } from './color.js';
import { escapeMarkup } from './escape.js';
import { aggregationLabel, conservationBrief, conservationLines, displayToken, formatNumber, formatRelevance, headline, targetLabel, truncate } from './format.js';
import { figureScale, MAX_SCALE, type FigureScale, type ScaleMode } from './scale.js';
import { aggregateWords } from './words.js';

/** Options of the SVG and HTML figures: the colour scale, printed numbers and word aggregation. */
export interface FigureOptions {
  /** How relevance maps to colour (default ±max). */
  scale?: ScaleMode;
  /** Print each cell's token and position relevance under it. */
  numbers?: boolean;
  /** Sum tokens into words first (see aggregateWords). */
  words?: boolean;
  /** The input text, for word aggregation by character offsets. */
  text?: string;
}

const FONT_SIZE = 12;
const CHAR_WIDTH = 7.3; // advance of a 12px monospace glyph, with a little slack
const SMALL_CHAR_WIDTH = 6.1; // 10px
const NUMBER_CHAR_WIDTH = 5.0; // 8px
const MAX_CHARS = 20;
const CELL_PADDING = 8;
const MIN_CELL = 28;
const TOKEN_HEIGHT = 22;
const POSITION_HEIGHT = 10;
const NUMBERS_HEIGHT = 22;
const METHOD_GAP = 6;
const GAP = 3;
const BAND_GAP = 14;
const MARGIN = 12;
const MAX_WIDTH = 960;
const BAR_WIDTH = 240;
const BAR_HEIGHT = 10;

/** Two significant digits: enough to read a cell, short enough to fit under it. */
function compact(x: number): string {
  if (!Number.isFinite(x)) return formatNumber(x);
  if (x === 0) return '0';
  const s = Math.abs(x) >= 1e-2 && Math.abs(x) < 1e4 ? String(Number(x.toPrecision(2))) : x.toExponential(1);
  return x > 0 ? `+${s}` : s;
}

interface Column {
  index: number;
  label: string;
  width: number;
}

function columns(tokens: TokenRelevance[], rows: Explanation[], numbers: boolean): Column[] {
  return tokens.map((t, i) => {
    const label = truncate(displayToken(t.text), MAX_CHARS);
    let width = Math.max(MIN_CELL, Math.ceil(Array.from(label).length * CHAR_WIDTH) + CELL_PADDING);
    if (numbers) {
      for (const e of rows) {
        const c = e.tokens[i]!;
        const chars = Math.max(compact(c.token).length, compact(c.position).length);
        width = Math.max(width, Math.ceil(chars * NUMBER_CHAR_WIDTH) + 6);
      }
    }
    return { index: t.index, label, width };
  });
}

/** Splits the columns into bands that fit the page width. */
function bands(cols: Column[], left: number): { col: Column; x: number }[][] {
  const out: { col: Column; x: number }[][] = [];
  let band: { col: Column; x: number }[] = [];
  let x = left;
  for (const col of cols) {
    if (band.length > 0 && x + col.width > MAX_WIDTH - MARGIN) {
      out.push(band);
      band = [];
      x = left;
    }
    band.push({ col, x });
    x += col.width + GAP;
  }
  if (band.length > 0) out.push(band);
  return out;
}

function tooltip(t: TokenRelevance): string {
  return (
    `#${t.index} ${JSON.stringify(t.text)} (id ${t.id}): token ${formatRelevance(t.token)}, ` +
    `position ${formatRelevance(t.position)}, total ${formatRelevance(t.total)}`
  );
}

function cell(t: TokenRelevance, label: string, x: number, y: number, w: number, scale: number, numbers: boolean): string {
  const tokenFill = relevanceColor(t.token, scale);
  let out =
    `<g class="token" data-index="${t.index}">` +
    `<title>${escapeMarkup(tooltip(t))}</title>` +
    `<rect x="${x}" y="${y}" width="${w}" height="${TOKEN_HEIGHT}" fill="${cssColor(tokenFill)}"/>` +
    `<text x="${x + w / 2}" y="${y + TOKEN_HEIGHT / 2}" fill="${cssColor(contrastingText(tokenFill))}" ` +
    `text-anchor="middle" dominant-baseline="central" xml:space="preserve">${escapeMarkup(label)}</text>` +
    `<rect class="position" x="${x}" y="${y + TOKEN_HEIGHT}" width="${w}" height="${POSITION_HEIGHT}" ` +
    `fill="${cssColor(relevanceColor(t.position, scale))}"/>`;
  if (numbers) {
    const ny = y + TOKEN_HEIGHT + POSITION_HEIGHT;
    out +=
      `<text class="number" x="${x + w / 2}" y="${ny + 9}" font-size="8" text-anchor="middle" fill="#333">${escapeMarkup(compact(t.token))}</text>` +
      `<text class="number" x="${x + w / 2}" y="${ny + 19}" font-size="8" text-anchor="middle" fill="#777">${escapeMarkup(compact(t.position))}</text>`;
  }
  return `${out}</g>`;
}

function colourBar(x: number, y: number, scale: FigureScale, perRow: boolean): string {
  const stops = [-1, -0.5, 0, 0.5, 1]
    .map((v) => `<stop offset="${(v + 1) / 2}" stop-color="${cssColor(relevanceColor(v, 1))}"/>`)
    .join('');
  const low = perRow ? '−1' : formatRelevance(-scale.value).replace('-', '−');
  const high = perRow ? '+1' : formatRelevance(scale.value);
  const unit = perRow ? '× each row’s scale' : '';
  const clipped = !perRow && scale.clipped > 0 ? `, ${scale.clipped} cell${scale.clipped === 1 ? '' : 's'} beyond it drawn saturated` : '';
  const caption = `${unit ? `${unit} · ` : ''}scale: ${scale.label}${clipped}`;
  return (
    `<g class="colour-bar">` +
    `<defs><linearGradient id="lrp-bar" x1="0" x2="1" y1="0" y2="0">${stops}</linearGradient></defs>` +
    `<rect x="${x}" y="${y}" width="${BAR_WIDTH}" height="${BAR_HEIGHT}" fill="url(#lrp-bar)" stroke="#bbb" stroke-width="0.5"/>` +
    `<text x="${x}" y="${y + BAR_HEIGHT + 11}" font-size="10" fill="#555">${escapeMarkup(low)}</text>` +
    `<text x="${x + BAR_WIDTH / 2}" y="${y + BAR_HEIGHT + 11}" font-size="10" fill="#555" text-anchor="middle">0</text>` +
    `<text x="${x + BAR_WIDTH}" y="${y + BAR_HEIGHT + 11}" font-size="10" fill="#555" text-anchor="end">${escapeMarkup(high)}</text>` +
    `<text x="${x + BAR_WIDTH + 10}" y="${y + BAR_HEIGHT - 1}" font-size="10" fill="#555">${escapeMarkup(caption)}</text>` +
    `</g>`
  );
}

function sameInput(rows: Explanation[]): void {
  const first = rows[0]!;
  for (const e of rows) {
    if (e.tokens.length !== first.tokens.length || e.tokens.some((t, i) => t.id !== first.tokens[i]!.id)) {
      throw new Error('renderSvgComparison: the explanations must be of the same input (same token ids)');
    }
  }
}

/** The figure for one or several explanations of one input. */
export function renderFigureSvg(explanations: Explanation[], options: FigureOptions = {}): string {
  if (explanations.length === 0) throw new Error('renderSvgComparison: no explanations given');
  sameInput(explanations);
  const rows = options.words ? explanations.map((e) => aggregateWords(e, options.text)) : explanations;
  const single = rows.length === 1;
  const numbers = options.numbers === true;
  const scales = rows.map((e) => figureScale(e, options.scale ?? MAX_SCALE));
  const first = rows[0]!;

  const title = single
    ? `transformer-lrp · ${headline(first)}`
    : `transformer-lrp · ${targetLabel(first)} · ${rows.map((e) => e.method).join(' vs ')}`;
  const header = single
    ? [...conservationLines(first), aggregationLabel(first)]
    : rows.map((e, i) => `${e.method}: ${conservationBrief(e)} · row scale ±${formatNumber(scales[i]!.value)}`);
  const headerHeight = 26 + header.length * 14;

  const labelWidth = single ? 70 : Math.max(70, ...rows.map((e) => Math.ceil(e.method.length * CHAR_WIDTH) + 12));
  const left = MARGIN + labelWidth;
  const cols = columns(first.tokens, rows, numbers);
  const laidOut = bands(cols, left);
  const rowHeight = TOKEN_HEIGHT + POSITION_HEIGHT + (numbers ? NUMBERS_HEIGHT : 0);
  const bandHeight = rows.length * rowHeight + (rows.length - 1) * METHOD_GAP;

  const parts: string[] = [];
  let y = headerHeight;
  let widest = 480;
  for (const band of laidOut) {
    rows.forEach((e, r) => {
      const top = y + r * (rowHeight + METHOD_GAP);
      const name = single ? 'token' : e.method;
      parts.push(
        `<text x="${MARGIN}" y="${top + TOKEN_HEIGHT / 2}" dominant-baseline="central" fill="#555">${escapeMarkup(name)}</text>` +
          `<text x="${MARGIN}" y="${top + TOKEN_HEIGHT + POSITION_HEIGHT / 2}" dominant-baseline="central" fill="#555" font-size="9">position</text>`,
      );
      const scale = scales[r]!.value;
      for (const { col, x } of band) {
        const t = e.tokens.find((tok) => tok.index === col.index)!;
        parts.push(cell(t, col.label, x, top, col.width, scale, numbers));
      }
    });
    const last = band[band.length - 1]!;
    widest = Math.max(widest, last.x + last.col.width + MARGIN);
    y += bandHeight + BAND_GAP;
  }
  const barY = y + 2;
  parts.push(colourBar(left, barY, scales[0]!, !single));
  const headerWidth = 2 * MARGIN + Math.max(...header.map((s) => Array.from(s).length)) * SMALL_CHAR_WIDTH;
  const width = Math.ceil(Math.max(widest, headerWidth, left + BAR_WIDTH + 330));
  const height = barY + BAR_HEIGHT + 16 + MARGIN;
  const headerLines = header.map((s, i) => `<text x="${MARGIN}" y="${34 + i * 14}" fill="#555" font-size="10">${escapeMarkup(s)}</text>`);
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, monospace" font-size="${FONT_SIZE}">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="${MARGIN}" y="18" font-weight="bold">${escapeMarkup(title)}</text>
${headerLines.join('\n')}
${parts.join('\n')}
</svg>
`;
}
