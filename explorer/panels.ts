/**
 * The explorer's result panels as markup: the per-layer relevance chart, the conservation ledger,
 * the rules applied and the positional relevance matrix. Pure functions of an Explanation, so
 * they are the same whatever computed it; all text from the model (token texts, names) is escaped.
 */
import { contrastingText, cssColor, relevanceColor, type Explanation } from '../index.js';

/** Escapes text for HTML and SVG text and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Four significant digits, exponent form for very small or large magnitudes. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs < 1e-3 || abs >= 1e5) return x.toExponential(3).replace(/\.?0+e/, 'e');
  return x.toPrecision(4).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

/** A token's text made visible: spaces as ·, newlines as ⏎, empty as ∅. */
export function visibleToken(text: string): string {
  if (text === '') return '∅';
  return text.replace(/\n/g, '⏎').replace(/\t/g, '⇥').replace(/ /g, '·');
}

/**
 * Relevance entering (at its output) and leaving (at its inputs) each layer, as pairs of bars on
 * one scale (a zero line in the middle when some are negative): a layer that conserves has two
 * bars of the same length. HTML rather than SVG, so its text stays readable at any width.
 */
export function layerChartHtml(e: Explanation): string {
  const layers = e.layers;
  if (layers.length === 0) return '<p class="hint">No per-layer record for this explanation.</p>';
  const max = Math.max(1e-30, ...layers.flatMap((l) => [Math.abs(l.in), Math.abs(l.out)]).filter(Number.isFinite));
  const signed = layers.some((l) => l.in < 0 || l.out < 0);
  const zero = signed ? 50 : 0;
  const span = signed ? 50 : 100;
  const bar = (v: number, kind: 'in' | 'out'): string => {
    const w = Number.isFinite(v) ? (Math.min(1, Math.abs(v) / max) * span) : 0;
    const left = v < 0 ? zero - w : zero;
    return `<span class="bar ${kind}" style="left:${left.toFixed(2)}%;width:${Math.max(0.3, w).toFixed(2)}%" title="${kind} ${num(v)}"></span>`;
  };
  const rows = layers.map(
    (l) =>
      `<tr><td class="layer" title="${escapeHtml(l.name)}">${escapeHtml(l.name).replace(/\./g, '.<wbr>')}</td><td class="bars">${signed ? '<span class="axis"></span>' : ''}${bar(l.in, 'in')}${bar(l.out, 'out')}</td><td class="num">${num(l.in)}<br>${num(l.out)}</td></tr>`,
  );
  return [
    '<p class="legend"><span class="key in"></span> in (from above) <span class="key out"></span> out (to the inputs)</p>',
    `<table class="layer-chart">${rows.join('')}</table>`,
  ].join('');
}

/** The conservation ledger: where the explained output went, term by term, and how well it closes. */
export function conservationHtml(e: Explanation): string {
  const c = e.conservation;
  const l = c.ledger;
  const softmax = l.softmax.reduce((s, x) => s + x.lost, 0);
  const out = c.output;
  const share = (v: number): string => (out !== 0 && Number.isFinite(v / out) ? `${(100 * (v / out)).toFixed(1)}%` : '');
  const rows: [string, number, string][] = [
    ['tokens', l.tokens, 'token (and segment) embeddings'],
    ['positions', l.positions, 'positional tensors that are inputs'],
    ['biases', l.biases, 'linear biases and LayerNorm β'],
    ['stabilisers', l.stabilizers, 'the ε / γ rules of the linear layers'],
    ['softmax', softmax, l.softmax.map((s) => `${s.name}: ${num(s.lost)}`).join('\n') || 'softmax detached (no loss)'],
    ['constant positional', l.constantPositional, 'positional tensors held constant'],
    ['other ops', l.otherOps, "ops that do not conserve under the method's rule"],
    ['float32 remainder', l.remainder, 'rounding of the whole measurement'],
  ];
  const ok = c.relativeError < 1e-3;
  const what = e.contrast !== undefined ? 'logit difference' : 'logit';
  return [
    '<table class="ledger">',
    `<tr><th>term</th><th class="num">relevance</th><th class="num">share</th></tr>`,
    `<tr class="total"><td>explained ${what}</td><td class="num">${num(out)}</td><td class="num">100%</td></tr>`,
    ...rows.map(([name, v, note]) => `<tr title="${escapeHtml(note)}"><td>${name}</td><td class="num">${num(v)}</td><td class="num">${share(v)}</td></tr>`),
    '</table>',
    `<p class="hint">Σ input relevance ${num(c.input)} (${share(c.input)} of the ${what}); unexplained by the rules ${num(l.unexplained)}.`,
    ` The ledger closes to a relative error of <span class="${ok ? 'ok' : 'warn'}">${c.relativeError.toExponential(1)}</span>.</p>`,
  ].join('');
}

/** Which rule replaced which op's gradient, on how many graph nodes. */
export function rulesHtml(e: Explanation): string {
  const rules = e.details?.rules ?? [];
  if (rules.length === 0) return '<p class="hint">Plain gradients everywhere (no rule replaced a gradient).</p>';
  return [
    '<table><tr><th>op</th><th>rule</th><th class="num">nodes</th></tr>',
    ...rules.map((r) => `<tr><td>${escapeHtml(r.op)}</td><td>${escapeHtml(r.rule)}</td><td class="num">${r.nodes}</td></tr>`),
    '</table>',
  ].join('');
}

function cell(value: number, scale: number, numbers: boolean): string {
  const bg = relevanceColor(value, scale);
  const fg = contrastingText(bg);
  const text = numbers ? num(value) : '';
  return `<td style="background:${cssColor(bg)};color:${cssColor(fg)}" title="${num(value)}">${escapeHtml(text.length > 6 ? Number(value).toPrecision(1) : text)}</td>`;
}

/**
 * Token × position matrix: the token embedding's relevance, then one row per positional tensor
 * (PA-LRP: each layer's rotary cos/sin, a learned or sinusoidal table), then their sum per
 * position, all on one colour scale.
 */
export function positionMatrixHtml(e: Explanation, numbers: boolean): string {
  const tensors = e.details?.positionalTensors ?? [];
  const rows: { name: string; values: number[] }[] = [
    { name: 'token embedding', values: e.tokens.map((t) => t.token) },
    ...tensors.map((t) => ({ name: t.name, values: e.tokens.map((tok) => t.relevance[tok.index] ?? 0) })),
    { name: 'position (sum)', values: e.tokens.map((t) => t.position) },
  ];
  const scale = Math.max(0, ...rows.flatMap((r) => r.values.filter(Number.isFinite).map(Math.abs)));
  const head = e.tokens.map((t) => `<th title="id ${t.id}">${escapeHtml(visibleToken(t.text).slice(0, 6))}<small>${t.index}</small></th>`).join('');
  const body = rows.map((r) => `<tr><th>${escapeHtml(r.name)}</th>${r.values.map((v) => cell(v, scale, numbers)).join('')}</tr>`).join('');
  const note =
    tensors.every((t) => t.relevance.every((v) => v === 0))
      ? `<p class="hint">${escapeHtml(e.method)} holds the positional encodings constant: no relevance reaches them as inputs (what they absorb is in the ledger's "constant positional").</p>`
      : '';
  return `<table class="matrix"><thead><tr><th></th>${head}</tr></thead><tbody>${body}</tbody></table>${note}`;
}
