/**
 * Terminal heatmap of an explanation. Colours are 24-bit ("truecolor") SGR escapes, which every
 * current terminal emulator understands; `color: false` gives the same layout as plain text.
 */
import type { Explanation, TokenRelevance } from '../result.js';
import { contrastingText, explanationScale, relevanceColor, type Rgb } from './color.js';
import {
  aggregationLabel,
  conservationSummary,
  displayToken,
  formatNumber,
  formatRelevance,
  headline,
  truncate,
} from './format.js';

/** Options of `renderAnsi`. */
export interface AnsiOptions {
  /** Emit colour escapes (default true). */
  color?: boolean;
  /** `lines`: a row per token with its numbers (default). `inline`: tokens wrapped like text. */
  layout?: 'lines' | 'inline';
  /** Wrap width of the inline layout, in columns (default 80). */
  width?: number;
  /** Longest token text shown in the lines layout before it is cut (default 24). */
  maxTokenWidth?: number;
}

const RESET = '\x1b[0m';

function paint(text: string, background: Rgb, color: boolean): string {
  if (!color) return text;
  const fg = contrastingText(background);
  return (
    `\x1b[48;2;${background.r};${background.g};${background.b}m` +
    `\x1b[38;2;${fg.r};${fg.g};${fg.b}m${text}${RESET}`
  );
}

// Widths count code points; wide (CJK) glyphs will misalign a column, which is acceptable for a
// debugging view and keeps this free of a Unicode width table.
function width(text: string): number {
  return Array.from(text).length;
}

function padEnd(text: string, columns: number): string {
  return text + ' '.repeat(Math.max(0, columns - width(text)));
}

function padStart(text: string, columns: number): string {
  return ' '.repeat(Math.max(0, columns - width(text))) + text;
}

function header(e: Explanation, scale: number): string[] {
  return [
    `transformer-lrp · ${headline(e)}`,
    conservationSummary(e),
    `${aggregationLabel(e)} · colour scale ±${formatNumber(scale)}`,
  ];
}

function linesLayout(e: Explanation, scale: number, color: boolean, maxTokenWidth: number): string[] {
  const texts = e.tokens.map((t) => truncate(displayToken(t.text), maxTokenWidth));
  const textColumn = Math.max(5, ...texts.map(width));
  const numbers = e.tokens.flatMap((t) => [t.token, t.position, t.total].map(formatRelevance));
  const numberColumn = Math.max(8, ...numbers.map(width));
  const indexColumn = Math.max(1, String(e.tokens.length - 1).length);
  const cell = (v: number) => paint(` ${padStart(formatRelevance(v), numberColumn)} `, relevanceColor(v, scale), color);
  const heading = (h: string) => ` ${padStart(h, numberColumn)} `;
  const rows = [
    `${padStart('#', indexColumn)}  ${padEnd('text', textColumn)}  ` +
      `${heading('token')} ${heading('position')}  ${padStart('total', numberColumn)}`,
  ];
  e.tokens.forEach((t, i) => {
    const text = paint(padEnd(texts[i]!, textColumn), relevanceColor(t.token, scale), color);
    rows.push(
      `${padStart(String(t.index), indexColumn)}  ${text}  ${cell(t.token)} ${cell(t.position)} ` +
        ` ${padStart(formatRelevance(t.total), numberColumn)}`,
    );
  });
  return rows;
}

/**
 * Tokens flow like text. With colour, each wrapped row of tokens is followed by a strip of the same
 * widths painted with position relevance; without colour each token carries its two numbers.
 */
function inlineLayout(e: Explanation, scale: number, color: boolean, columns: number): string[] {
  const pieces = e.tokens.map((t: TokenRelevance) => {
    const text = displayToken(t.text);
    return color ? text : `${text}⟨${formatRelevance(t.token)}|${formatRelevance(t.position)}⟩`;
  });
  const rows: string[] = [];
  let textRow = '';
  let stripRow = '';
  let used = 0;
  const flush = () => {
    if (used === 0) return;
    rows.push(textRow);
    if (color) rows.push(stripRow);
    textRow = '';
    stripRow = '';
    used = 0;
  };
  e.tokens.forEach((t, i) => {
    const piece = truncate(pieces[i]!, columns);
    const w = width(piece);
    if (used > 0 && used + 1 + w > columns) flush();
    if (used > 0) {
      textRow += ' ';
      stripRow += ' ';
      used += 1;
    }
    textRow += paint(piece, relevanceColor(t.token, scale), color);
    stripRow += paint(' '.repeat(w), relevanceColor(t.position, scale), color);
    used += w;
  });
  flush();
  if (color) rows.push('(each row of tokens: text coloured by token relevance, strip below by position relevance)');
  return rows;
}

/**
 * A terminal heatmap of an explanation: a header with the target and the conservation summary,
 * then each token's and position's relevance on the shared diverging scale (24-bit colour
 * escapes; `color: false` for plain text).
 */
export function renderAnsi(e: Explanation, opts: AnsiOptions = {}): string {
  const color = opts.color ?? true;
  const scale = explanationScale(e);
  const body =
    (opts.layout ?? 'lines') === 'inline'
      ? inlineLayout(e, scale, color, Math.max(8, opts.width ?? 80))
      : linesLayout(e, scale, color, Math.max(2, opts.maxTokenWidth ?? 24));
  return [...header(e, scale), '', ...body].join('\n') + '\n';
}
