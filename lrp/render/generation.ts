/**
 * A generation, explained, drawn as an attribution matrix (as inseq draws one): one row per
 * generated token, one column per token of the sequence, each cell the relevance (token +
 * position) of that column's token for the row's logit. Cells right of a row's prefix are empty
 * (causal masking: those tokens came later); the row's own token is outlined on the diagonal.
 * Each row has its own colour scale, since each step explains a different logit.
 */
import type { GenerationExplanation, SequenceToken } from '../generate.js';
import type { Explanation } from '../result.js';
import { contrastingText, cssColor, relevanceColor, type Rgb } from './color.js';
import { escapeMarkup } from './escape.js';
import { aggregationLabel, conservationLines, displayToken, formatNumber, formatRelevance, truncate } from './format.js';
import { percentile, type ScaleMode } from './scale.js';

/** Figure options of a generation matrix (SVG, HTML). */
export interface GenerationFigureOptions {
  /**
   * How each row's relevance maps to colour (default `exclude-predicting`: ±max |R| of the row
   * without the position the logit is read at, which otherwise holds most of it and washes the
   * rest out; that cell then saturates).
   */
  scale?: ScaleMode;
  /** Print each cell's relevance in it. */
  numbers?: boolean;
  /** Draw the title lines above the matrix (default true; the HTML page has its own). */
  header?: boolean;
}

/** Options of the terminal rendering of a generation. */
export interface GenerationAnsiOptions {
  /** Emit colour escapes (default true); without colour each token carries its number. */
  color?: boolean;
}

interface Row {
  step: Explanation;
  token: SequenceToken;
  /** Relevance per column (token + position); null right of the prefix. */
  cells: (number | null)[];
  /** |R| at full colour for this row, how many cells it clips, and its label. */
  scale: number;
  clipped: number;
}

/** The row's colour scale under `mode`: exclude-predicting leaves out the position the logit is read at (the prefix's last). */
function rowScale(values: number[], mode: ScaleMode): { scale: number; clipped: number } {
  const magnitudes = values.filter(Number.isFinite).map(Math.abs);
  let scale: number;
  if (mode.kind === 'percentile') scale = percentile(magnitudes, mode.percentile);
  else if (mode.kind === 'exclude-predicting') scale = Math.max(0, ...magnitudes.slice(0, -1));
  else scale = Math.max(0, ...magnitudes);
  const clipped = scale > 0 ? magnitudes.filter((v) => v > scale * (1 + 1e-12)).length : 0;
  return { scale, clipped };
}

function rows(g: GenerationExplanation, mode: ScaleMode): Row[] {
  const width = g.prompt.length + g.generated.length;
  return g.steps.map((step, k) => {
    const values = step.tokens.map((t) => t.total);
    const cells: (number | null)[] = Array.from({ length: width }, (_, j) => (j < values.length ? values[j]! : null));
    return { step, token: g.generated[k]!, cells, ...rowScale(values, mode) };
  });
}

function scaleLabel(mode: ScaleMode): string {
  if (mode.kind === 'percentile') return `${mode.percentile}th percentile of the row's |R|`;
  if (mode.kind === 'exclude-predicting') return "the row's max |R| without the position the logit is read at";
  return "the row's max |R|";
}

/**
 * Token texts as running text: with word markers (a leading space, GPT-2's `Ġ`, SentencePiece's
 * `▁`, WordPiece's `##`) joined as the tokenizer would decode; without (word-level vocabularies)
 * separated by spaces.
 */
function joinTokens(ts: readonly SequenceToken[], all: readonly SequenceToken[]): string {
  const markers = all.some((t) => /^[\sĠ▁]|^##/.test(t.text));
  if (!markers) return ts.map((t) => displayToken(t.text)).join(' ');
  return ts.map((t) => displayToken(t.text.replace(/^##/, '').replace(/[Ġ▁]/g, ' '))).join('');
}

/** `prompt ⟶ generated` as one line of text. */
function sequenceLine(g: GenerationExplanation): string {
  const all = [...g.prompt, ...g.generated];
  return `${joinTokens(g.prompt, all).trimEnd()} ⟶ ${joinTokens(g.generated, all).trimStart()}`;
}

/** Two significant digits, for numbers inside cells. */
function compact(x: number): string {
  if (!Number.isFinite(x)) return formatNumber(x);
  if (x === 0) return '0';
  const s = Math.abs(x) >= 1e-2 && Math.abs(x) < 1e3 ? String(Number(x.toPrecision(2))) : x.toExponential(0);
  return x > 0 ? `+${s}` : s;
}

const FONT = 12;
const CHAR = 7.3; // advance of a 12px monospace glyph
const SMALL_CHAR = 6.1; // 10px
const CELL_H = 24;
const MARGIN = 14;
const LABEL_CHARS = 14;
const BAR_WIDTH = 240;
const EXCLUDE_PREDICTING: ScaleMode = { kind: 'exclude-predicting' };

function textEl(x: number, y: number, text: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs ? ` ${attrs}` : ''}>${escapeMarkup(text)}</text>`;
}

/**
 * The generation as a standalone SVG matrix: column labels (prompt tokens, then generated ones in
 * colour) above, one row per generated token with its text at the left and its logit and
 * conservation at the right, a colour bar below. Every cell has a tooltip with its numbers.
 */
export function renderGenerationSvg(g: GenerationExplanation, options: GenerationFigureOptions = {}): string {
  const mode = options.scale ?? EXCLUDE_PREDICTING;
  const numbers = options.numbers === true;
  const header = options.header !== false;
  const matrix = rows(g, mode);
  const columns = [...g.prompt, ...g.generated];
  const P = g.prompt.length;
  const cellW = numbers ? 44 : 34;
  const labels = columns.map((t) => truncate(displayToken(t.text), LABEL_CHARS));
  const rowLabels = matrix.map((r, k) => `${k}  ${truncate(displayToken(r.token.text), LABEL_CHARS)}`);
  const left = MARGIN + Math.ceil(Math.max(...rowLabels.map((l) => Array.from(l).length)) * CHAR) + 10;
  // Column labels are drawn at −50°: they need the height of the longest one's vertical extent.
  const longest = Math.max(1, ...labels.map((l) => Array.from(l).length));
  const headerTop = header ? MARGIN + 3 * 18 + 6 : MARGIN;
  const labelsHeight = Math.ceil(longest * CHAR * Math.sin((50 * Math.PI) / 180)) + 14;
  const top = headerTop + labelsHeight;
  const gridRight = left + columns.length * cellW;
  const notes = matrix.map((r) => {
    const c = r.step.conservation;
    return `logit ${formatNumber(r.step.logit)} · scale ±${formatNumber(r.scale)} · rel. err ${formatNumber(c.relativeError)}`;
  });
  const notesWidth = Math.ceil(Math.max(...notes.map((n) => n.length)) * SMALL_CHAR) + 12;
  const title = `transformer-lrp · generation explained with ${g.method} · ${g.generated.length} new token${g.generated.length === 1 ? '' : 's'}`;
  const subtitle = truncate(sequenceLine(g), 140);
  const caption = `cell: relevance (token + position) of the column's token for the row's logit · colour: ±${scaleLabel(mode)}`;
  const gridBottom = top + matrix.length * CELL_H;
  const clipped = matrix.reduce((a, r) => a + r.clipped, 0);
  const legend = `${clipped > 0 ? `${clipped} cell${clipped === 1 ? '' : 's'} beyond the scale (saturated) · ` : ''}${aggregationLabel(g.steps[0]!)}`;
  const headerWidth = header ? Math.ceil(Math.max(title.length * CHAR, subtitle.length * SMALL_CHAR, caption.length * SMALL_CHAR)) : 0;
  const width = Math.max(gridRight + 10 + notesWidth, MARGIN + headerWidth, MARGIN + BAR_WIDTH + 16 + Math.ceil(legend.length * SMALL_CHAR)) + MARGIN;
  const height = gridBottom + 64;
  const out: string[] = [];
  out.push(
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="${FONT}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  );
  if (header) {
    out.push(
      textEl(MARGIN, MARGIN + 12, title, 'font-weight="bold" font-size="13"'),
      textEl(MARGIN, MARGIN + 30, subtitle, 'font-size="10" fill="#333"'),
      textEl(MARGIN, MARGIN + 48, caption, 'font-size="10" fill="#555"'),
    );
  }
  // Column labels, rotated; generated tokens in colour.
  columns.forEach((t, j) => {
    const x = left + j * cellW + cellW / 2 + 4;
    const y = top - 6;
    const fill = j >= P ? '#6a1b9a' : '#222';
    out.push(`<text x="${x.toFixed(1)}" y="${y}" transform="rotate(-50 ${x.toFixed(1)} ${y})" fill="${fill}">${escapeMarkup(labels[j]!)}<title>${escapeMarkup(`${j < P ? 'prompt' : 'generated'} token ${j}: id ${t.id} "${displayToken(t.text)}"`)}</title></text>`);
  });
  // The boundary between prompt and generated columns.
  const boundary = left + P * cellW;
  out.push(`<line x1="${boundary}" y1="${top - 4}" x2="${boundary}" y2="${gridBottom + 4}" stroke="#6a1b9a" stroke-width="1" stroke-dasharray="3 2"/>`);
  matrix.forEach((r, k) => {
    const y = top + k * CELL_H;
    out.push(textEl(left - 8, y + CELL_H / 2 + 4, rowLabels[k]!, 'text-anchor="end" fill="#6a1b9a"'));
    r.cells.forEach((v, j) => {
      const x = left + j * cellW;
      if (j === P + k) {
        // The token this row explains: where it will sit in the sequence.
        out.push(`<rect x="${x + 1}" y="${y + 1}" width="${cellW - 2}" height="${CELL_H - 2}" fill="#f3e5f5" stroke="#6a1b9a" stroke-width="1.5"><title>${escapeMarkup(`step ${k}: generated "${displayToken(r.token.text)}" (id ${r.token.id}) at position ${j}`)}</title></rect>`);
        return;
      }
      if (v === null) return;
      const fill = relevanceColor(v, r.scale);
      const t = r.step.tokens[j]!;
      const tip = `step ${k} → "${displayToken(r.token.text)}": token ${j} "${displayToken(t.text)}" total ${formatRelevance(t.total)} (token ${formatRelevance(t.token)}, position ${formatRelevance(t.position)})`;
      out.push(`<rect x="${x + 1}" y="${y + 1}" width="${cellW - 2}" height="${CELL_H - 2}" fill="${cssColor(fill)}" stroke="#d0d0d0" stroke-width="0.5"><title>${escapeMarkup(tip)}</title></rect>`);
      if (numbers) out.push(textEl(x + cellW / 2, y + CELL_H / 2 + 3, compact(v), `font-size="9" text-anchor="middle" fill="${cssColor(contrastingText(fill))}"`));
    });
    out.push(textEl(gridRight + 10, y + CELL_H / 2 + 4, notes[k]!, 'font-size="10" fill="#333"'));
  });
  // Colour bar: −scale … 0 … +scale of each row.
  const barY = gridBottom + 22;
  const stops = [-1, -0.5, 0, 0.5, 1].map((f) => {
    const c: Rgb = relevanceColor(f, 1);
    return `<stop offset="${((f + 1) / 2) * 100}%" stop-color="${cssColor(c)}"/>`;
  });
  out.push(
    `<defs><linearGradient id="generation-bar">${stops.join('')}</linearGradient></defs>`,
    `<rect x="${MARGIN}" y="${barY}" width="${BAR_WIDTH}" height="10" fill="url(#generation-bar)" stroke="#999" stroke-width="0.5"/>`,
    textEl(MARGIN, barY + 24, '−row scale', 'font-size="10"'),
    textEl(MARGIN + BAR_WIDTH / 2, barY + 24, '0', 'font-size="10" text-anchor="middle"'),
    textEl(MARGIN + BAR_WIDTH, barY + 24, '+row scale', 'font-size="10" text-anchor="end"'),
  );
  out.push(textEl(MARGIN + BAR_WIDTH + 16, barY + 9, legend, 'font-size="10" fill="#555"'));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** A page with the matrix and, per step, its conservation ledger in words. */
export function renderGenerationHtml(g: GenerationExplanation, options: GenerationFigureOptions = {}): string {
  const all = [...g.prompt, ...g.generated];
  // Marked tokens carry their own spaces; word-level ones are separated by one.
  const separator = all.some((t) => /^[\sĠ▁]|^##/.test(t.text)) ? '' : ' ';
  const steps = g.steps
    .map((step, k) => {
      const [balance, error] = conservationLines(step);
      return `<tr><td>${k}</td><td class="tok">${escapeMarkup(displayToken(g.generated[k]!.text))}</td><td>${escapeMarkup(String(step.target))}</td><td>${escapeMarkup(formatNumber(step.logit))}</td><td>${escapeMarkup(balance)}<br><span class="note">${escapeMarkup(error)}</span></td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeMarkup(`transformer-lrp · generation · ${g.method}`)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 18px; }
.sequence { font-family: ui-monospace, Menlo, Consolas, monospace; background: #f6f6f6; padding: 8px 12px; border-radius: 4px; white-space: pre-wrap; }
.sequence .gen { color: #6a1b9a; font-weight: bold; }
.figure { overflow-x: auto; margin: 16px 0; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border-bottom: 1px solid #e4e4e4; padding: 4px 10px; text-align: left; vertical-align: top; }
td.tok { font-family: ui-monospace, Menlo, Consolas, monospace; color: #6a1b9a; white-space: pre; }
.note { color: #666; font-size: 12px; }
</style>
</head>
<body>
<h1>${escapeMarkup(`Generation explained with ${g.method}: ${g.generated.length} new token${g.generated.length === 1 ? '' : 's'}`)}</h1>
<p class="sequence">${escapeMarkup(joinTokens(g.prompt, all))}${separator}<span class="gen">${escapeMarkup(joinTokens(g.generated, all))}</span></p>
<p class="note">Each row explains one generated token (outlined where it will sit): the relevance (token + position) of every token before it for that token's logit. Colour: ±${escapeMarkup(scaleLabel(options.scale ?? EXCLUDE_PREDICTING))}. Hover a cell for its numbers.</p>
<div class="figure">
${renderGenerationSvg(g, { ...options, header: false }).replace(/^<\?xml[^>]*>\n/, '')}</div>
<h2 style="font-size:15px">Conservation per step</h2>
<table>
<tr><th>step</th><th>token</th><th>id</th><th>logit</th><th>where the logit went</th></tr>
${steps}
</table>
</body>
</html>
`;
}

const RESET = '\x1b[0m';

function paint(text: string, background: Rgb, color: boolean): string {
  if (!color) return text;
  const fg = contrastingText(background);
  return `\x1b[48;2;${background.r};${background.g};${background.b}m\x1b[38;2;${fg.r};${fg.g};${fg.b}m${text}${RESET}`;
}

/**
 * The generation in a terminal: one line per generated token, its prefix's tokens painted with
 * their relevance for it (each line its own ±max scale), or with numbers when there is no colour.
 */
export function renderGenerationAnsi(g: GenerationExplanation, options: GenerationAnsiOptions = {}): string {
  const color = options.color ?? true;
  const matrix = rows(g, EXCLUDE_PREDICTING);
  const labels = matrix.map((r, k) => `${k} → ${truncate(displayToken(r.token.text), LABEL_CHARS)}`);
  const labelWidth = Math.max(...labels.map((l) => Array.from(l).length));
  const lines = [
    `transformer-lrp · generation explained with ${g.method} · ${g.generated.length} new token${g.generated.length === 1 ? '' : 's'}`,
    sequenceLine(g),
    color
      ? "each line: the tokens before the generated token, coloured by relevance for it (±max |R| of the line without its last token)"
      : 'each line: the tokens before the generated token, with their relevance (token + position) for it',
    '',
  ];
  // Marked tokens (Ġ, ▁, a leading space) carry their own spaces; word-level ones get one between.
  const all = [...g.prompt, ...g.generated];
  const separator = color && all.some((t) => /^[\sĠ▁]|^##/.test(t.text)) ? '' : ' ';
  matrix.forEach((r, k) => {
    const tokens = r.step.tokens.map((t) => {
      const text = displayToken(t.text);
      return color ? paint(text, relevanceColor(t.total, r.scale), true) : `${text}⟨${formatRelevance(t.total)}⟩`;
    });
    const c = r.step.conservation;
    lines.push(
      `${labels[k]!}${' '.repeat(labelWidth - Array.from(labels[k]!).length)} │ ${tokens.join(separator)}`,
      `${' '.repeat(labelWidth)} │ logit ${formatNumber(r.step.logit)} · scale ±${formatNumber(r.scale)} · relative error ${formatNumber(c.relativeError)} · rule losses ${formatNumber(c.ledger.unexplained)}`,
    );
  });
  return `${lines.join('\n')}\n`;
}
