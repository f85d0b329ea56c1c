/**
 * Text pieces the renderers share: numbers, token text made printable, and the one-line
 * conservation summary.
 */
import type { Explanation } from '../result.js';

const SIGNIFICANT_DIGITS = 4;

/**
 * A number with at most 4 significant digits and no trailing zeros; exponent form outside
 * [1e-3, 1e5).
 */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs < 1e-3 || abs >= 1e5) {
    return x.toExponential(SIGNIFICANT_DIGITS - 1).replace(/\.?0+e/, 'e');
  }
  return x.toPrecision(SIGNIFICANT_DIGITS).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

/** Like formatNumber, with an explicit `+` so columns of signed relevance line up. */
export function formatRelevance(x: number): string {
  const s = formatNumber(x);
  return x > 0 ? `+${s}` : s;
}

export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return formatNumber(fraction);
  const percent = fraction * 100;
  // Rounding-sized shares in exponent form (1.4e-5%), not as a run of zeros.
  if (percent !== 0 && Math.abs(percent) < 1e-2) return `${formatNumber(percent)}%`;
  return `${percent.toPrecision(3)}%`;
}

/**
 * Token text as it should be drawn. Tokenizers hand back newlines, tabs and sometimes raw control
 * bytes; drawn as-is they break layouts, and in a terminal an ESC byte would be executed. They are
 * replaced by visible stand-ins (Unicode control pictures), and an empty token by ∅.
 */
export function displayToken(text: string): string {
  if (text.length === 0) return '∅';
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '\n') out += '⏎';
    else if (ch === '\t') out += '⇥';
    else if (code < 0x20) out += String.fromCodePoint(0x2400 + code);
    else if (code === 0x7f) out += '␡';
    else if (code >= 0x80 && code < 0xa0) out += '�';
    else out += ch;
  }
  return out;
}

/** Cuts `text` to at most `max` code points, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  const points = Array.from(text);
  if (points.length <= max) return text;
  return points.slice(0, Math.max(0, max - 1)).join('') + '…';
}

export function tokenSum(e: Explanation): number {
  return e.tokens.reduce((s, t) => s + t.token, 0);
}

/**
 * Σ of signed position relevance. The conservation check needs signs even when `position` is shown
 * as the paper's |·| aggregation, so the signed detail is preferred when present.
 */
export function signedPositionSum(e: Explanation): number {
  const signed = e.details?.positionSigned;
  if (signed) return signed.reduce((s, v) => s + v, 0);
  return e.tokens.reduce((s, t) => s + t.position, 0);
}

/** Says how `position` was aggregated, in words. */
export function aggregationLabel(e: Explanation): string {
  const aggregation = e.details?.positionAggregation ?? 'signed';
  return aggregation === 'abs'
    ? 'position = Σ over layers and PE parts of |Σ_d R| (PA-LRP paper)'
    : 'position = Σ over layers and PE parts of Σ_d R (signed)';
}

/** One ledger term: a label and the relevance it took; `always` terms are shown even when 0. */
export interface LedgerTerm {
  label: string;
  value: number;
  always: boolean;
}

/**
 * The ledger's terms in the order they are shown: where the output went (docs/rules.md,
 * "Conservation"). Each softmax's loss is one term, named by its layer.
 */
export function ledgerTerms(e: Explanation): LedgerTerm[] {
  const l = e.conservation.ledger;
  return [
    { label: 'tokens', value: l.tokens, always: true },
    { label: 'positions', value: l.positions, always: false },
    { label: 'biases', value: l.biases, always: false },
    { label: 'ε stabilisers', value: l.stabilizers, always: false },
    ...l.softmax.map((s) => ({ label: `softmax rule ${s.name}`, value: s.lost, always: false })),
    { label: 'constant positional', value: l.constantPositional, always: false },
    { label: 'other ops', value: l.otherOps, always: false },
    { label: 'remainder', value: l.remainder, always: true },
  ];
}

/** Σ of the softmax rules' losses over layers. */
export function softmaxLoss(e: Explanation): number {
  return e.conservation.ledger.softmax.reduce((s, x) => s + x.lost, 0);
}

/**
 * The conservation summary in two parts: the output as the sum of the ledger's terms (softmax
 * rules summed over layers, terms that are exactly 0 left out), then the relative error of that
 * sum and what the rules left unexplained.
 */
export function conservationLines(e: Explanation): [string, string] {
  const c = e.conservation;
  const l = c.ledger;
  const terms: [string, number][] = [
    ['tokens', l.tokens],
    ['positions', l.positions],
    ['biases', l.biases],
    ['ε', l.stabilizers],
    ['softmax rule', l.softmax.length > 0 ? softmaxLoss(e) : 0],
    ['constant PE', l.constantPositional],
    ['other ops', l.otherOps],
  ];
  const shown = terms.filter(([label, v]) => v !== 0 || label === 'tokens');
  const sum = [...shown, ['remainder', l.remainder] as [string, number]].map(([label, v]) => `${label} ${formatNumber(v)}`).join(' + ');
  return [
    `conservation: output ${formatNumber(c.output)} = ${sum}`,
    `relative error |remainder|/|output| ${formatNumber(c.relativeError)} · ` +
      `rule losses ${formatNumber(l.unexplained)} (${formatPercent(l.unexplained / Math.abs(c.output))} of |output|)`,
  ];
}

/** The conservation summary on one line (terminal, figure rows). */
/** A short form for one row of a side-by-side figure: the shares, not every term. */
export function conservationBrief(e: Explanation): string {
  const c = e.conservation;
  const l = c.ledger;
  const share = (v: number): string => formatPercent(v / Math.abs(c.output));
  return (
    `output ${formatNumber(c.output)}: tokens ${share(l.tokens)}, positions ${share(l.positions)}, ` +
    `biases ${share(l.biases)}, rule losses ${share(l.unexplained)} · relative error ${formatNumber(c.relativeError)}`
  );
}

export function conservationSummary(e: Explanation): string {
  return conservationLines(e).join(' · ');
}

/** An id with its text, when known: `7 "Paris"` (made printable and cut to 30 characters). */
function named(id: number, text: string | undefined): string {
  return text === undefined ? `${id}` : `${id} "${truncate(displayToken(text), 30)}"`;
}

/** What was explained: `target 7 "Paris"`, or `target 7 "Paris" vs 3 "London"` for a contrast. */
export function targetLabel(e: Explanation): string {
  const target = `target ${named(e.target, e.targetText)}`;
  return e.contrast === undefined ? target : `${target} vs ${named(e.contrast, e.contrastText)}`;
}

/** The explained output: the target's logit, or its difference from the contrast's. */
export function outputLabel(e: Explanation): string {
  return e.contrast === undefined || e.contrastLogit === undefined
    ? `logit ${formatNumber(e.logit)}`
    : `logit difference ${formatNumber(e.logit - e.contrastLogit)}`;
}

export function headline(e: Explanation): string {
  return `${e.method} · ${targetLabel(e)} · ${outputLabel(e)}`;
}
