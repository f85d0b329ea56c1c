/**
 * A self-contained HTML report of an explanation: inline CSS, no scripts, no external resources, so
 * the file can be mailed, archived or opened offline and still look the same.
 */
import type { Explanation, TokenRelevance } from '../result.js';
import { contrastingText, cssColor, relevanceColor } from './color.js';
import { escapeMarkup } from './escape.js';
import {
  aggregationLabel,
  displayToken,
  formatNumber,
  formatPercent,
  formatRelevance,
  headline,
  targetLabel,
  ledgerTerms,
} from './format.js';
import { renderFigureSvg, type FigureOptions } from './figure.js';
import { renderImageOverlaySvg, type OverlayImage } from './overlay.js';
import { figureScale, MAX_SCALE } from './scale.js';
import { aggregateWords } from './words.js';

/** Options of `renderHtml`. */
export interface HtmlOptions extends FigureOptions {
  /** For image models: the input image, drawn under the patch relevance. */
  image?: OverlayImage;
}

const STYLE = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
  h1 { font-size: 18px; margin: 0 0 4px; }
  h2 { font-size: 15px; margin: 24px 0 8px; }
  .meta { color: #555; margin: 0 0 16px; }
  .heatmap { display: flex; flex-wrap: wrap; gap: 6px 3px; align-items: flex-start; }
  .pair { display: inline-flex; flex-direction: column; }
  .token { font: 14px/1.2 ui-monospace, monospace; white-space: pre; padding: 3px 4px;
           border-radius: 3px 3px 0 0; }
  .position { display: block; height: 8px; border-radius: 0 0 3px 3px;
              border-top: 1px solid rgba(0, 0, 0, 0.15); }
  .legend { display: flex; align-items: center; gap: 8px; margin: 16px 0 0; color: #555; }
  .legend .bar { width: 240px; height: 12px; border: 1px solid #ccc;
                 background: linear-gradient(to right, ${cssColor(relevanceColor(-1, 1))},
                 ${cssColor(relevanceColor(0, 1))}, ${cssColor(relevanceColor(1, 1))}); }
  .numbers { font: 9px/1.2 ui-monospace, monospace; color: #555; text-align: center; }
  figure { margin: 8px 0; }
  table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
`;

function tokenTitle(t: TokenRelevance): string {
  return (
    `#${t.index} ${JSON.stringify(t.text)} (id ${t.id}) · token ${formatRelevance(t.token)} · ` +
    `position ${formatRelevance(t.position)} · total ${formatRelevance(t.total)}`
  );
}

function compact(x: number): string {
  return formatRelevance(Number(x.toPrecision(2)));
}

function tokenPair(t: TokenRelevance, scale: number, numbers: boolean): string {
  const background = relevanceColor(t.token, scale);
  const text = contrastingText(background);
  const title = escapeMarkup(tokenTitle(t));
  return (
    `<span class="pair">` +
    `<span class="token" data-index="${t.index}" data-id="${t.id}" data-token="${t.token}" ` +
    `data-position="${t.position}" data-total="${t.total}" title="${title}" ` +
    `style="background-color: ${cssColor(background)}; color: ${cssColor(text)}">` +
    `${escapeMarkup(displayToken(t.text))}</span>` +
    `<span class="position" data-index="${t.index}" data-position="${t.position}" title="${title}" ` +
    `style="background-color: ${cssColor(relevanceColor(t.position, scale))}"></span>` +
    (numbers ? `<span class="numbers">${escapeMarkup(compact(t.token))}<br>${escapeMarkup(compact(t.position))}</span>` : '') +
    `</span>`
  );
}

function row(cells: string[], header = false): string {
  const tag = header ? 'th' : 'td';
  return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`;
}

function conservationTable(e: Explanation): string {
  const c = e.conservation;
  const l = c.ledger;
  const terms = ledgerTerms(e).filter((t) => t.always || t.value !== 0);
  const rows = [
    ...terms.map((t) => [t.label, formatNumber(t.value), formatPercent(t.value / Math.abs(c.output))]),
    [e.contrast === undefined ? '= output (target logit)' : '= output (target − contrast logit)', formatNumber(c.output), formatPercent(1)],
  ];
  const totals = [
    ['input (tokens + signed positions)', formatNumber(c.input)],
    ['rule losses (ε, softmax, constant positional, other ops)', formatNumber(l.unexplained)],
    ['relative error |remainder| / |output|', formatNumber(c.relativeError)],
  ];
  return (
    `<table class="conservation">${row(['where the output went', 'relevance', 'share of |output|'], true)}` +
    `${rows.map((r) => row(r.map(escapeMarkup))).join('')}</table>\n` +
    `<table class="conservation">${totals.map((r) => row(r.map(escapeMarkup))).join('')}</table>`
  );
}

function layerTable(e: Explanation): string {
  if (e.layers.length === 0) return '<p>No per-layer relevance was recorded.</p>';
  const body = e.layers.map((l) =>
    row([l.name, formatNumber(l.in), formatNumber(l.out), formatRelevance(l.out - l.in)].map(escapeMarkup)),
  );
  return (
    `<table class="layers">${row(['layer', 'in (at its output)', 'out (at its inputs)', 'out − in'], true)}` +
    `${body.join('')}</table>`
  );
}

function positionalTable(e: Explanation): string {
  const tensors = e.details?.positionalTensors ?? [];
  if (tensors.length === 0) return '';
  const body = tensors.map((p) =>
    row([p.name, formatNumber(p.relevance.reduce((s, v) => s + v, 0))].map(escapeMarkup)),
  );
  return (
    `<h2>Positional tensors</h2>` +
    `<table class="positional">${row(['tensor', 'Σ relevance'], true)}${body.join('')}</table>`
  );
}

/** Shown distances; the rest are summed in one column. */
const DISTANCE_COLUMNS = 8;

/** ALiBi: relevance per query–key distance d = i − j, per layer's bias. */
function distanceTable(e: Explanation): string {
  const tensors = e.details?.positionalDistances ?? [];
  if (tensors.length === 0) return '';
  const T = tensors[0]!.relevance.length;
  const shown = Math.min(T, DISTANCE_COLUMNS);
  const header = ['tensor', ...Array.from({ length: shown }, (_, d) => `d = ${d}`), ...(T > shown ? [`d ≥ ${shown}`] : [])];
  const body = tensors.map((p) => {
    const cells = p.relevance.slice(0, shown).map(formatNumber);
    if (T > shown) cells.push(formatNumber(p.relevance.slice(shown).reduce((a, v) => a + v, 0)));
    return row([p.name, ...cells].map(escapeMarkup));
  });
  return (
    `<h2>Positional bias per distance (query i, key j, d = i − j)</h2>` +
    `<table class="positional">${row(header, true)}${body.join('')}</table>`
  );
}

/** Which op gradients the method replaced (a detach rule shows where relevance was blocked). */
function rulesTable(e: Explanation): string {
  const rules = e.details?.rules ?? [];
  if (rules.length === 0) return '';
  const body = rules.map((r) => row([r.op, r.rule, String(r.nodes)].map(escapeMarkup)));
  return `<h2>Rules applied</h2><table class="rules">${row(['op', 'rule', 'graph nodes'], true)}${body.join('')}</table>`;
}

/** An SVG document's markup without its XML declaration, for inlining into HTML. */
function inlineSvg(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, '');
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeMarkup(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeMarkup(title)}</h1>
${body}
</body>
</html>
`;
}

/**
 * A self-contained HTML report of one explanation: the heatmap with its colour scale, the image
 * overlay for image models, and the conservation ledger.
 */
export function renderHtml(explanation: Explanation, options: HtmlOptions = {}): string {
  const e = options.words ? aggregateWords(explanation, options.text) : explanation;
  const scale = figureScale(e, options.scale ?? MAX_SCALE);
  const title = `transformer-lrp · ${headline(e)}`;
  const meta = [e.details?.modelType, aggregationLabel(e)].filter((s): s is string => s !== undefined && s !== '');
  const clipped = scale.clipped > 0 ? ` (${scale.clipped} beyond it drawn saturated)` : '';
  const overlay = options.image ? `<h2>Over the image</h2>\n<figure>${inlineSvg(renderImageOverlaySvg(e, options.image, options))}</figure>\n` : '';
  return page(
    title,
    `<p class="meta">${meta.map(escapeMarkup).join(' · ')}</p>
<div class="heatmap">${e.tokens.map((t) => tokenPair(t, scale.value, options.numbers === true)).join('')}</div>
<div class="legend"><span>${escapeMarkup(formatRelevance(-scale.value))}</span><span class="bar"></span>` +
      `<span>${escapeMarkup(formatRelevance(scale.value))}</span>` +
      `<span>scale: ${escapeMarkup(scale.label + clipped)} · token relevance above, position relevance in the strip below each token</span></div>
${overlay}<h2>Conservation</h2>
${conservationTable(e)}
<h2>Relevance per layer</h2>
${layerTable(e)}
${positionalTable(e)}
${distanceTable(e)}
${rulesTable(e)}`,
  );
}

/** Several methods' explanations of one input: the aligned figure, then each one's conservation. */
export function renderHtmlComparison(explanations: Explanation[], options: FigureOptions = {}): string {
  const figure = inlineSvg(renderFigureSvg(explanations, options));
  const first = explanations[0]!;
  const sections = explanations
    .map((e) => `<h2>${escapeMarkup(e.method)}: conservation</h2>\n${conservationTable(options.words ? aggregateWords(e, options.text) : e)}`)
    .join('\n');
  return page(
    `transformer-lrp · ${targetLabel(first)} · ${explanations.map((e) => e.method).join(' vs ')}`,
    `<p class="meta">${escapeMarkup(aggregationLabel(first))}</p>\n<figure>${figure}</figure>\n${sections}`,
  );
}
