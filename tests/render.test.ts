import { describe, expect, it } from 'vitest';
import {
  aggregateWords,
  escapeLatex,
  figureScale,
  parseScaleMode,
  patchGrid,
  percentile,
  predictingIndex,
  relevanceColor,
  relevanceScale,
  renderAnsi,
  renderHtml,
  renderHtmlComparison,
  renderImageOverlaySvg,
  renderSvg,
  renderSvgComparison,
  renderTikz,
  type Rgb,
} from '../lrp/render/index.js';
import { escapeMarkup } from '../lrp/render/escape.js';
import { displayToken } from '../lrp/render/format.js';
import { sampleExplanation } from './helpers/sample-explanation.js';
import { xmlProblem } from './helpers/xml.js';

const ESC = '\x1b';

function parseRgb(css: string): Rgb {
  const m = css.match(/rgb\((\d+), (\d+), (\d+)\)/);
  if (!m) throw new Error(`not an rgb() colour: ${css}`);
  return { r: Number(m[1]), g: Number(m[2]), b: Number(m[3]) };
}

const reddish = (c: Rgb) => c.r > c.b + 30;
const bluish = (c: Rgb) => c.b > c.r + 30;

describe('colour scale', () => {
  it('is white at zero, red for positive and blue for negative relevance', () => {
    expect(relevanceColor(0, 2)).toEqual({ r: 255, g: 255, b: 255 });
    expect(reddish(relevanceColor(1, 2))).toBe(true);
    expect(bluish(relevanceColor(-1, 2))).toBe(true);
  });

  it('grows more intense with |R| and saturates at the scale', () => {
    const half = relevanceColor(1, 2);
    const full = relevanceColor(2, 2);
    expect(full.g).toBeLessThan(half.g);
    expect(relevanceColor(5, 2)).toEqual(full);
  });

  it('ignores values that are not finite when finding the scale', () => {
    expect(relevanceScale([1, -3, Number.NaN, Number.POSITIVE_INFINITY])).toBe(3);
    expect(relevanceScale([])).toBe(0);
    expect(relevanceColor(1, 0)).toEqual({ r: 255, g: 255, b: 255 });
  });
});

describe('escaping', () => {
  it('escapes markup characters and replaces characters XML forbids', () => {
    expect(escapeMarkup(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(escapeMarkup('a\u0001b\uD800c')).toBe('a\uFFFDb\uFFFDc');
    expect(escapeMarkup('😀')).toBe('😀');
  });

  it('makes control characters in token text visible', () => {
    expect(displayToken('\n')).toBe('⏎');
    expect(displayToken(`${ESC}[31m`)).toBe('␛[31m');
    expect(displayToken('')).toBe('∅');
  });
});

describe('renderAnsi', () => {
  const e = sampleExplanation();

  it('writes a header with method, target, logit and the conservation line', () => {
    const out = renderAnsi(e, { color: false });
    const [title, conservation] = out.split('\n');
    expect(title).toContain('pa-lrp');
    expect(title).toContain('target 29871');
    expect(title).toContain('logit 1.25');
    expect(conservation).toMatch(/^conservation: output 1\.25 = tokens 1\.011 \+ positions -0\.029 \+ biases 0\.1 \+ ε \S+ \+ softmax rule 0\.15 \+ remainder 2e-7 · relative error \|remainder\|\/\|output\| 1\.6e-7 · rule losses \S+ \(\S+% of \|output\|\)$/);
  });

  it('shows every token with its token and position relevance', () => {
    const out = renderAnsi(e, { color: false });
    for (const t of e.tokens) {
      const row = out.split('\n').find((l) => l.trimStart().startsWith(`${t.index} `));
      expect(row, `row of token ${t.index}`).toBeDefined();
      expect(row).toContain(displayToken(t.text).slice(0, 10));
    }
    expect(out).toContain('+2.5');
    expect(out).toContain('-1.75');
    expect(out).toContain('-0.6');
  });

  it('emits no escape sequences without colour, even for a token that contains one', () => {
    expect(renderAnsi(e, { color: false })).not.toContain(ESC);
    expect(renderAnsi(e, { color: false, layout: 'inline' })).not.toContain(ESC);
  });

  it('paints positive relevance red and negative blue with truecolor backgrounds', () => {
    const out = renderAnsi(e, { color: true });
    const backgroundBefore = (needle: string): Rgb => {
      const at = out.indexOf(needle);
      const escapes = [...out.slice(0, at).matchAll(/\x1b\[48;2;(\d+);(\d+);(\d+)m/g)];
      const last = escapes[escapes.length - 1]!;
      return { r: Number(last[1]), g: Number(last[2]), b: Number(last[3]) };
    };
    expect(reddish(backgroundBefore('+2.5'))).toBe(true);
    expect(bluish(backgroundBefore('-1.75'))).toBe(true);
    // The ESC byte inside a token is shown, not executed: the only ESC bytes are our own SGR codes.
    expect(out.replace(/\x1b\[[0-9;]*m/g, '')).not.toContain(ESC);
  });

  it('wraps the inline layout to the requested width', () => {
    const out = renderAnsi(e, { color: false, layout: 'inline', width: 40 });
    const body = out.split('\n\n')[1]!.trimEnd().split('\n');
    expect(body.length).toBeGreaterThan(1);
    for (const line of body) expect(Array.from(line).length).toBeLessThanOrEqual(40);
    expect(out).toContain('quick⟨+2.5|+0.2⟩');
  });
});

describe('renderHtml', () => {
  const e = sampleExplanation();
  const html = renderHtml(e);

  it('is one self-contained document with no scripts and no external resources', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|\bsrc=|\bhref=|@import|url\(/i);
  });

  it('lists the rules that replaced gradients', () => {
    expect(html).toContain('<h2>Rules applied</h2>');
    expect(html).toMatch(/softmax<\/td><td>attention-detached<\/td><td>2</);
  });

  it('escapes token text everywhere it appears', () => {
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;');
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('&lt;s&gt;');
  });

  it('has one token span per token carrying its numbers', () => {
    const spans = [...html.matchAll(/<span class="token" ([^>]*)>/g)];
    expect(spans).toHaveLength(e.tokens.length);
    spans.forEach((m, i) => {
      const attr = (name: string) => m[1]!.match(new RegExp(`${name}="([^"]*)"`))![1];
      const t = e.tokens[i]!;
      expect(Number(attr('data-index'))).toBe(t.index);
      expect(Number(attr('data-id'))).toBe(t.id);
      expect(Number(attr('data-token'))).toBe(t.token);
      expect(Number(attr('data-position'))).toBe(t.position);
      expect(Number(attr('data-total'))).toBe(t.total);
    });
  });

  it('colours a positive token red and a negative token blue', () => {
    const style = (index: number) =>
      parseRgb(html.match(new RegExp(`class="token" data-index="${index}"[^>]*background-color: (rgb\\([^)]*\\))`))![1]!);
    expect(reddish(style(2))).toBe(true);
    expect(bluish(style(3))).toBe(true);
  });

  it('includes the conservation report and one table row per layer', () => {
    expect(html).toContain('Conservation');
    expect(html).toContain('where the output went');
    for (const term of ['tokens', 'biases', 'ε stabilisers', 'softmax rule layers.0.self_attn.softmax', 'remainder']) expect(html).toContain(`<td>${term}</td>`);
    expect(html).toContain('<td>relative error |remainder| / |output|</td><td>1.6e-7</td>');
    for (const l of e.layers) expect(html).toContain(`<td>${l.name}</td>`);
  });
});

describe('renderSvg', () => {
  const e = sampleExplanation();
  const svg = renderSvg(e);

  it('is well-formed standalone SVG', () => {
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(xmlProblem(svg)).toBeNull();
  });

  it('the well-formedness check catches broken markup', () => {
    expect(xmlProblem('<svg><text>a < b</text></svg>')).not.toBeNull();
    expect(xmlProblem('<svg><g></svg>')).not.toBeNull();
    expect(xmlProblem('<svg><text>&nbsp;</text></svg>')).not.toBeNull();
  });

  it('draws a token cell and a position cell for every token, with escaped labels', () => {
    expect(svg.match(/<g class="token"/g)).toHaveLength(e.tokens.length);
    expect(svg.match(/<rect class="position"/g)).toHaveLength(e.tokens.length);
    expect(svg).toContain('&lt;script&gt;');
    expect(svg).not.toContain('<script');
    expect(svg).toContain('>token</text>');
    expect(svg).toContain('>position</text>');
  });

  it('stays well-formed with no tokens at all', () => {
    const empty = { ...e, tokens: [] };
    expect(xmlProblem(renderSvg(empty))).toBeNull();
    expect(renderHtml(empty)).toContain('<div class="heatmap"></div>');
  });
});

describe('figure scale modes', () => {
  const e = sampleExplanation();

  it('parses max, pNN and exclude-predicting, and refuses anything else', () => {
    expect(parseScaleMode('max')).toEqual({ kind: 'max' });
    expect(parseScaleMode('p99')).toEqual({ kind: 'percentile', percentile: 99 });
    expect(parseScaleMode('p99.5')).toEqual({ kind: 'percentile', percentile: 99.5 });
    expect(parseScaleMode('exclude-predicting')).toEqual({ kind: 'exclude-predicting' });
    for (const bad of ['p0', 'p101', 'p', '99', 'median', '']) expect(() => parseScaleMode(bad)).toThrow(/scale/);
  });

  it('interpolates percentiles between order statistics like numpy', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBeCloseTo(2.5, 12);
    expect(percentile([10, 0], 90)).toBeCloseTo(9, 12);
    expect(percentile([5], 37)).toBe(5);
    expect(percentile([], 99)).toBe(0);
  });

  it('max is the largest |R| over token and position cells; a percentile clips and counts the clipped cells', () => {
    expect(figureScale(e)).toMatchObject({ value: 2.5, clipped: 0 });
    // |R| over the 16 cells; the 75th percentile lies between the 12th and 13th smallest.
    const mags = e.tokens.flatMap((t) => [Math.abs(t.token), Math.abs(t.position)]).sort((a, b) => a - b);
    const p75 = mags[11]! + (mags[12]! - mags[11]!) * 0.25;
    const s = figureScale(e, { kind: 'percentile', percentile: 75 });
    expect(s.value).toBeCloseTo(p75, 12);
    expect(s.clipped).toBe(mags.filter((m) => m > p75).length);
  });

  it('leaves the predicting position out: the last token of a causal LM, CLS of a classifier', () => {
    const big = structuredClone(e);
    big.tokens[7]!.token = 40;
    expect(predictingIndex(big)).toBe(7);
    expect(figureScale(big).value).toBe(40);
    expect(figureScale(big, { kind: 'exclude-predicting' })).toMatchObject({ value: 2.5, clipped: 1 });
    const bert = structuredClone(e);
    bert.details!.modelType = 'bert';
    expect(predictingIndex(bert)).toBe(0);
  });
});

describe('word aggregation', () => {
  const tokens = (texts: string[]) =>
    texts.map((text, index) => ({ index, id: 100 + index, text, token: index + 1, position: -(index + 1) / 10, total: (index + 1) * 0.9 }));
  const withTokens = (texts: string[]) => {
    const e = sampleExplanation();
    e.tokens = tokens(texts);
    e.details!.positionSigned = e.tokens.map((t) => t.position);
    e.details!.positionAbs = e.tokens.map((t) => Math.abs(t.position));
    e.details!.positionalTensors = [{ name: 'embeddings.position', relevance: e.tokens.map((t) => t.position) }];
    return e;
  };

  it('joins GPT-2 pieces after a leading space, keeps specials apart, and sums relevance exactly', () => {
    const e = withTokens(['<s>', 'The', ' qu', 'ick', ' fox', '.']);
    const w = aggregateWords(e);
    expect(w.tokens.map((t) => t.text)).toEqual(['<s>', 'The', ' quick', ' fox.']);
    expect(w.tokens.map((t) => t.token)).toEqual([1, 2, 3 + 4, 5 + 6]);
    expect(w.tokens[3]!.position).toBeCloseTo(-1.1, 12);
    expect(w.tokens.map((t) => t.index)).toEqual([0, 1, 2, 3]);
    expect(w.details!.positionalTensors[0]!.relevance[2]).toBeCloseTo(-0.7, 12);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(w.tokens.map((t) => t.total))).toBeCloseTo(sum(e.tokens.map((t) => t.total)), 12);
  });

  it('continues BERT ## pieces and starts SentencePiece ▁ words', () => {
    expect(aggregateWords(withTokens(['[CLS]', 'un', '##believ', '##able', '[SEP]'])).tokens.map((t) => t.text)).toEqual(['[CLS]', 'unbelievable', '[SEP]']);
    expect(aggregateWords(withTokens(['▁The', '▁qu', 'ick'])).tokens.map((t) => t.text)).toEqual(['▁The', '▁quick']);
  });

  it('uses character offsets in the text when the tokens carry them', () => {
    const e = withTokens(['New', 'York', 'er', 's']);
    const spans: [number, number][] = [[0, 3], [4, 8], [8, 10], [10, 11]];
    e.tokens.forEach((t, i) => Object.assign(t, { start: spans[i]![0], end: spans[i]![1] }));
    expect(aggregateWords(e, 'New Yorkers').tokens.map((t) => t.text)).toEqual(['New', 'Yorkers']);
  });

  it('finds the spans by walking the text, and keeps word-level tokens apart without it', () => {
    const e = withTokens(['[CLS]', 'New', 'York', 'er', 's', '!']);
    expect(aggregateWords(e, 'New Yorkers !').tokens.map((t) => t.text)).toEqual(['[CLS]', 'New', 'Yorkers', '!']);
    expect(aggregateWords(e).tokens).toHaveLength(6);
  });
});

describe('paper figures', () => {
  const e = sampleExplanation();
  const other = structuredClone(e);
  other.method = 'cp-lrp';
  other.tokens.forEach((t) => (t.token *= -1));

  it('has a colour bar whose ends are ±scale, and the numbers under every cell on request', () => {
    const svg = renderSvg(e, { numbers: true });
    expect(xmlProblem(svg)).toBeNull();
    expect(svg).toContain('class="colour-bar"');
    expect(svg).toContain('>+2.5</text>');
    expect(svg).toContain('>−2.5</text>');
    expect(svg.match(/class="number"/g)).toHaveLength(2 * e.tokens.length);
    expect(renderSvg(e).match(/class="number"/g)).toBeNull();
    expect(renderSvg(e, { scale: { kind: 'percentile', percentile: 50 } })).toMatch(/50th percentile of \|R\|, \d+ cells beyond it drawn saturated/);
  });

  it('draws several methods side by side, one labelled row each, and refuses explanations of different inputs', () => {
    const svg = renderSvgComparison([e, other]);
    expect(xmlProblem(svg)).toBeNull();
    expect(svg.match(/<g class="token"/g)).toHaveLength(2 * e.tokens.length);
    expect(svg).toContain('>pa-lrp</text>');
    expect(svg).toContain('>cp-lrp</text>');
    // Token 2 is positive under pa-lrp and negative under cp-lrp.
    const fills = [...svg.matchAll(/<g class="token" data-index="2">.*?<rect [^>]*fill="(rgb\([^)]*\))"/g)].map((m) => parseRgb(m[1]!));
    expect(reddish(fills[0]!)).toBe(true);
    expect(bluish(fills[1]!)).toBe(true);
    const shorter = { ...other, tokens: other.tokens.slice(1) };
    expect(() => renderSvgComparison([e, shorter])).toThrow(/same input/);
    const html = renderHtmlComparison([e, other]);
    expect(html).toContain('<h2>cp-lrp: conservation</h2>');
    expect(html).not.toContain('<?xml');
  });

  it('exports TikZ with LaTeX specials escaped and one cell and strip per token', () => {
    expect(escapeLatex('a_b & {c} 100% #1 $x$ ~^\\')).toBe('a\\_b \\& \\{c\\} 100\\% \\#1 \\$x\\$ \\textasciitilde{}\\textasciicircum{}\\textbackslash{}');
    const tex = renderTikz(e);
    expect(tex).toMatch(/^% transformer-lrp: pa-lrp, target 29871/);
    expect(tex).toContain('\\begin{tikzpicture}');
    expect(tex.trim().endsWith('\\end{tikzpicture}')).toBe(true);
    expect(tex.match(/\\node\[text=/g)).toHaveLength(e.tokens.length);
    // Markup is plain text to LaTeX; characters outside ASCII (⏎ for a newline token) become '?'.
    expect(tex).toContain('{\\strut  <script>alert("x")');
    expect(tex).toContain('{\\strut ?}');
    expect(renderTikz([e, other]).match(/\\node\[text=/g)).toHaveLength(2 * e.tokens.length);
  });

  it('draws ViT patch relevance over the image, CLS left out of the grid and of the scale', () => {
    const vit = structuredClone(e);
    vit.tokens = Array.from({ length: 10 }, (_, i) => ({ index: i, id: i - 1, text: i === 0 ? '[CLS]' : `patch ${i - 1}`, token: i === 0 ? 50 : i - 5, position: 0.1 * i, total: 0 }));
    expect(patchGrid(vit)).toBe(3);
    const svg = renderImageOverlaySvg(vit, { href: 'data:image/png;base64,AAAA' });
    expect(xmlProblem(svg)).toBeNull();
    expect(svg.match(/<rect class="patch" data-patch="\d+" data-token=/g)).toHaveLength(9);
    expect(svg).toContain('colour scale ±4 ');
    const patch8 = parseRgb(svg.match(/data-patch="8" data-token="[^"]*"[^>]*fill="(rgb\([^)]*\))"/)![1]!);
    expect(reddish(patch8)).toBe(true);
    expect(() => patchGrid(e)).toThrow(/square grid/);
    expect(renderHtml(vit, { image: { href: 'data:image/png;base64,AAAA' } })).toContain('<h2>Over the image</h2>');
  });
});

describe('HTML: ALiBi relevance per distance', () => {
  it('lists the first distances and sums the rest; absent without a positional bias', () => {
    const e = sampleExplanation();
    expect(renderHtml(e)).not.toContain('per distance');
    const relevance = Array.from({ length: 11 }, (_, d) => (d === 0 ? 0 : d / 100));
    e.details = { ...e.details!, positionalDistances: [{ name: 'layers.0.alibi', relevance }] };
    const html = renderHtml(e);
    expect(html).toContain('Positional bias per distance');
    expect(html).toContain('d = 7');
    expect(html).not.toContain('d = 8<');
    // d ≥ 8: 0.08 + 0.09 + 0.10
    expect(html).toMatch(/d ≥ 8[\s\S]*layers\.0\.alibi[\s\S]*0\.27/);
  });
});
