/**
 * LaTeX/TikZ export: the heatmap as a `tikzpicture` to paste into a paper (needs `\usepackage{tikz}`),
 * one node per token coloured by token relevance over a strip coloured by position relevance, a
 * row per explanation when several methods are compared, and a colour bar. Colours are written
 * as RGB values so the figure matches the SVG and HTML renderings exactly.
 */
import type { Explanation, TokenRelevance } from '../result.js';
import { contrastingText, relevanceColor, type Rgb } from './color.js';
import { displayToken, formatNumber, outputLabel, targetLabel, truncate } from './format.js';
import { figureScale, MAX_SCALE } from './scale.js';
import { aggregateWords } from './words.js';
import type { FigureOptions } from './figure.js';

const LATEX_SPECIAL: Record<string, string> = {
  '\\': '\\textbackslash{}',
  '{': '\\{',
  '}': '\\}',
  $: '\\$',
  '&': '\\&',
  '#': '\\#',
  '^': '\\textasciicircum{}',
  _: '\\_',
  '%': '\\%',
  '~': '\\textasciitilde{}',
};

/** Text safe inside a LaTeX paragraph: specials escaped, anything outside printable ASCII as `?`. */
export function escapeLatex(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (LATEX_SPECIAL[ch]) out += LATEX_SPECIAL[ch];
    else if (code >= 0x20 && code < 0x7f) out += ch;
    else out += '?';
  }
  return out;
}

function color(c: Rgb): string {
  return `{rgb,255:red,${c.r};green,${c.g};blue,${c.b}}`;
}

/** Widths in ex units of a monospace font: one character is about 1.05ex in \ttfamily. */
function width(label: string): number {
  return Math.max(2.5, Array.from(label).length * 1.05 + 0.8);
}

function node(t: TokenRelevance, label: string, x: number, y: number, w: number, scale: number): string {
  const fill = relevanceColor(t.token, scale);
  const text = contrastingText(fill);
  const pos = relevanceColor(t.position, scale);
  const cx = (x + w / 2).toFixed(2);
  return (
    `  \\fill[fill=${color(fill)}] (${x.toFixed(2)}ex,${y.toFixed(2)}ex) rectangle ++(${w.toFixed(2)}ex,2.6ex);\n` +
    `  \\node[text=${color(text)}] at (${cx}ex,${(y + 1.3).toFixed(2)}ex) {\\strut ${escapeLatex(label)}};\n` +
    `  \\fill[fill=${color(pos)}] (${x.toFixed(2)}ex,${(y - 1).toFixed(2)}ex) rectangle ++(${w.toFixed(2)}ex,1ex);\n`
  );
}

/**
 * One or several explanations of the same input as a `tikzpicture`. Long inputs stay on one line:
 * scale the picture with `\resizebox` or use word aggregation for paper-width figures.
 */
export function renderTikz(explanations: Explanation | Explanation[], options: FigureOptions = {}): string {
  const list = Array.isArray(explanations) ? explanations : [explanations];
  if (list.length === 0) throw new Error('renderTikz: no explanations given');
  const rows = options.words ? list.map((e) => aggregateWords(e, options.text)) : list;
  const labels = rows[0]!.tokens.map((t) => truncate(displayToken(t.text), 20));
  const widths = labels.map(width);
  const left = rows.length > 1 ? Math.max(...rows.map((e) => e.method.length)) * 1.05 + 2 : 0;
  let out =
    `% transformer-lrp: ${rows.map((e) => `${e.method}, ${targetLabel(e)}, ${outputLabel(e)}`).join('; ')}\n` +
    `% Needs \\usepackage{tikz}. Token cells over position strips; red = positive, blue = negative relevance.\n` +
    `\\begin{tikzpicture}[x=1ex,y=1ex,every node/.style={inner sep=0pt,font=\\ttfamily\\small}]\n`;
  rows.forEach((e, r) => {
    const scale = figureScale(e, options.scale ?? MAX_SCALE);
    const y = -r * 5;
    if (rows.length > 1) out += `  \\node[anchor=west] at (0ex,${(y + 1.3).toFixed(2)}ex) {${escapeLatex(e.method)}};\n`;
    let x = left;
    e.tokens.forEach((t, i) => {
      out += node(t, labels[i]!, x, y, widths[i]!, scale.value);
      x += widths[i]! + 0.4;
    });
  });
  // Colour bar: nine steps from −scale to +scale, with the first row's numbers.
  const scale = figureScale(rows[0]!, options.scale ?? MAX_SCALE);
  const barY = -rows.length * 5 - 1;
  for (let k = 0; k < 9; k++) {
    const v = -1 + k / 4;
    out += `  \\fill[fill=${color(relevanceColor(v, 1))}] (${(left + k * 2).toFixed(2)}ex,${barY}ex) rectangle ++(2ex,1ex);\n`;
  }
  const perRow = rows.length > 1 ? ' (x each row\'s scale)' : '';
  const low = rows.length > 1 ? '-1' : formatNumber(-scale.value);
  const high = rows.length > 1 ? '+1' : `+${formatNumber(scale.value)}`;
  out +=
    `  \\node[anchor=north west,font=\\ttfamily\\scriptsize] at (${left.toFixed(2)}ex,${barY - 0.3}ex) {${escapeLatex(low)}};\n` +
    `  \\node[anchor=north east,font=\\ttfamily\\scriptsize] at (${(left + 18).toFixed(2)}ex,${barY - 0.3}ex) {${escapeLatex(high)}};\n` +
    `  \\node[anchor=west,font=\\ttfamily\\scriptsize] at (${(left + 19).toFixed(2)}ex,${barY + 0.5}ex) {${escapeLatex(`scale: ${scale.label}${perRow}`)}};\n` +
    `\\end{tikzpicture}\n`;
  return out;
}
