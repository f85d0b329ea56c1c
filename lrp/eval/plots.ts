/**
 * SVG line charts of the mean perturbation curves: one chart per protocol, one line per method,
 * a legend, and labelled axes. Self-contained SVG (no scripts, no external fonts).
 */
import { escapeMarkup } from '../render/escape.js';
import type { EvalMethod } from './protocol.js';
import type { Summary } from './summary.js';

export interface Series {
  name: string;
  values: number[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xs: number[];
  series: Series[];
}

const COLORS: Record<EvalMethod, string> = {
  random: '#7f7f7f',
  gi: '#1f77b4',
  'cp-lrp': '#2ca02c',
  attnlrp: '#d62728',
  'pa-lrp': '#9467bd',
};
const DASH: Partial<Record<EvalMethod, string>> = { random: '6 4' };

/** "Nice" tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  // First tick at or below lo, last at or above hi: every value lies inside the plot.
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.max(Math.ceil(hi / step - 1e-9), first + 1);
  return Array.from({ length: last - first + 1 }, (_, i) => Number(((first + i) * step).toPrecision(12)));
}

const label = (v: number): string => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

export function lineChart(spec: ChartSpec): string {
  const W = 560;
  const H = 360;
  const m = { left: 70, right: 150, top: 40, bottom: 50 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const finite = spec.series.flatMap((s) => s.values).filter(Number.isFinite);
  const yt = ticks(finite.length ? Math.min(...finite) : 0, finite.length ? Math.max(...finite) : 1);
  const y0 = yt[0]!;
  const y1 = yt[yt.length - 1]!;
  const xMin = spec.xs[0] ?? 0;
  const xMax = spec.xs[spec.xs.length - 1] ?? 1;
  const X = (x: number): number => m.left + ((x - xMin) / (xMax - xMin || 1)) * pw;
  const Y = (y: number): number => m.top + ph - ((y - y0) / (y1 - y0 || 1)) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${m.left + pw / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeMarkup(spec.title)}</text>`,
  ];
  for (const v of yt) {
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end">${label(v)}</text>`);
  }
  for (const v of ticks(xMin, xMax)) {
    parts.push(`<line x1="${X(v).toFixed(1)}" x2="${X(v).toFixed(1)}" y1="${m.top + ph}" y2="${m.top + ph + 5}" stroke="#333"/>`);
    parts.push(`<text x="${X(v).toFixed(1)}" y="${m.top + ph + 18}" text-anchor="middle">${label(v)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">${escapeMarkup(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeMarkup(spec.yLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const color = COLORS[s.name as EvalMethod] ?? '#000';
    const dash = DASH[s.name as EvalMethod];
    // Earlier series are drawn wider, so a later one on top of it (equal curves) leaves it visible.
    const width = Math.max(3.5 - 0.5 * i, 1.5);
    const points = s.values.map((v, k) => (Number.isFinite(v) ? `${X(spec.xs[k]!).toFixed(1)},${Y(v).toFixed(1)}` : null)).filter((p) => p !== null);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${points.join(' ')}"/>`);
    for (const p of points) {
      const [cx, cy] = p.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
    }
    const ly = m.top + 10 + i * 20;
    parts.push(`<line x1="${m.left + pw + 14}" x2="${m.left + pw + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    parts.push(`<text x="${m.left + pw + 46}" y="${ly + 4}">${escapeMarkup(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** File name → chart, one per protocol (pruning twice: probability and ‖y₀ − y‖²). */
export function summaryCharts(summary: Summary): Record<string, string> {
  const xs = summary.fractions;
  const methods = summary.settings.methods.filter((m) => summary.methods[m]);
  const series = (pick: (m: EvalMethod) => number[]): Series[] => methods.map((m) => ({ name: m, values: pick(m) }));
  const c = (m: EvalMethod) => summary.methods[m]!.curves;
  const n = summary.examples.evaluated;
  return {
    'generate.svg': lineChart({ title: `Generate (insert most relevant first), n=${n}`, xLabel: 'fraction of tokens inserted', yLabel: 'true-class probability', xs, series: series((m) => c(m).generate.probability) }),
    'pruning.svg': lineChart({ title: `Pruning (remove least |relevant| first), n=${n}`, xLabel: 'fraction of tokens removed', yLabel: 'true-class probability', xs, series: series((m) => c(m).pruning.probability) }),
    'pruning-mse.svg': lineChart({ title: `Pruning: output change, n=${n}`, xLabel: 'fraction of tokens removed', yLabel: '‖y₀ − y‖² (logits)', xs, series: series((m) => c(m).pruning.mse) }),
    'morf.svg': lineChart({ title: `MoRF (remove most relevant first), n=${n}`, xLabel: 'fraction of tokens removed', yLabel: 'true-class logit', xs, series: series((m) => c(m).morf.logit) }),
    'lerf.svg': lineChart({ title: `LeRF (remove least relevant first), n=${n}`, xLabel: 'fraction of tokens removed', yLabel: 'true-class logit', xs, series: series((m) => c(m).lerf.logit) }),
  };
}
