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
 * Relevance entering (at its output) and leaving (at its inputs) each layer, as horizontal bars
 * around a zero line: a layer that conserves has two bars of the same length.
 */
export function layerChartSvg(e: Explanation): string {
  const layers = e.layers;
  if (layers.length === 0) return '<p class="hint">No per-layer record for this explanation.</p>';
  const labelWidth = 150;
  const width = 460;
  const row = 30;
  const top = 26;
  const height = top + layers.length * row + 8;
  const plot = width - labelWidth - 70;
  const max = Math.max(1e-30, ...layers.flatMap((l) => [Math.abs(l.in), Math.abs(l.out)]));
  const hasNegative = layers.some((l) => l.in < 0 || l.out < 0);
  const zero = labelWidth + (hasNegative ? plot / 2 : 0);
  const scale = (hasNegative ? plot / 2 : plot) / max;
  const bar = (v: number, y: number, fill: string): string => {
    const w = Math.abs(v) * scale;
    const x = v < 0 ? zero - w : zero;
    return `<rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(0.5, w).toFixed(1)}" height="10" fill="${fill}"><title>${num(v)}</title></rect>`;
  };
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="relevance in and out per layer" font-family="system-ui, sans-serif" font-size="11">`,
    `<rect x="${labelWidth}" y="6" width="10" height="10" fill="#2f5fb3"/><text x="${labelWidth + 14}" y="15">in (from above)</text>`,
    `<rect x="${labelWidth + 110}" y="6" width="10" height="10" fill="#9fb6dc"/><text x="${labelWidth + 124}" y="15">out (to the inputs)</text>`,
    `<line x1="${zero}" x2="${zero}" y1="${top - 2}" y2="${height - 4}" stroke="#5f6b7a" stroke-width="1"/>`,
  ];
  layers.forEach((l, i) => {
    const y = top + i * row;
    const name = l.name.length > 24 ? `…${l.name.slice(-23)}` : l.name;
    parts.push(`<text x="${labelWidth - 6}" y="${y + 14}" text-anchor="end" font-family="ui-monospace, DejaVu Sans Mono, monospace">${escapeHtml(name)}<title>${escapeHtml(l.name)}</title></text>`);
    parts.push(bar(l.in, y + 2, '#2f5fb3'), bar(l.out, y + 13, '#9fb6dc'));
    parts.push(`<text x="${width - 4}" y="${y + 11}" text-anchor="end" fill="#5f6b7a">${num(l.in)}</text>`);
    parts.push(`<text x="${width - 4}" y="${y + 22}" text-anchor="end" fill="#5f6b7a">${num(l.out)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
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
    tensors.length === 0
      ? `<p class="hint">${escapeHtml(e.method)} holds the positional encodings constant: no relevance reaches them as inputs (what they absorb is in the ledger's "constant positional").</p>`
      : '';
  return `<table class="matrix"><thead><tr><th></th>${head}</tr></thead><tbody>${body}</tbody></table>${note}`;
}
