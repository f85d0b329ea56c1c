/**
 * The summary of a run (or of merged shards): mean curves and mean areas per method over the
 * evaluated examples. Means are summed in example order, so a merge of shards gives bit-identical
 * numbers to a single run.
 */
import type { EvalMethod, ExampleResult } from './protocol.js';
import type { RunSettings, Shard } from './files.js';
import { AREA_KEYS, fractions, PROTOCOLS, type Areas, type Protocol } from './metrics.js';

export interface MeanWithError {
  mean: number;
  /** Standard error of the mean (0 with fewer than two examples). */
  sem: number;
}

export interface MethodSummary {
  areas: Record<keyof Areas, MeanWithError>;
  curves: Record<Protocol, { probability: number[]; logit: number[]; mse: number[] }>;
}

export interface Summary {
  settings: RunSettings;
  shards: Shard[];
  /** Whether every example of the data (of these shards) has a result. */
  complete: boolean;
  examples: { seen: number; evaluated: number; misclassified: number; noPerturbableTokens: number };
  /** Unperturbed accuracy over the seen examples. */
  accuracy: number;
  fractions: number[];
  methods: Partial<Record<EvalMethod, MethodSummary>>;
}

function meanWithError(values: readonly number[]): MeanWithError {
  const n = values.length;
  if (n === 0) return { mean: NaN, sem: NaN };
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  if (n < 2) return { mean, sem: 0 };
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, sem: Math.sqrt(sq / (n - 1) / n) };
}

function meanCurve(curves: readonly number[][]): number[] {
  if (curves.length === 0) return [];
  return curves[0]!.map((_, k) => {
    let s = 0;
    for (const c of curves) s += c[k]!;
    return s / curves.length;
  });
}

export function summarize(settings: RunSettings, shards: Shard[], results: readonly ExampleResult[], expected: number): Summary {
  const sorted = [...results].sort((a, b) => a.index - b.index);
  const evaluated = sorted.filter((r) => !r.skipped && r.methods);
  const methods: Partial<Record<EvalMethod, MethodSummary>> = {};
  for (const method of settings.methods) {
    const per = evaluated.map((r) => r.methods![method]!);
    const areas = Object.fromEntries(AREA_KEYS.map((k) => [k, meanWithError(per.map((m) => m.areas[k]))])) as MethodSummary['areas'];
    const curves = Object.fromEntries(
      PROTOCOLS.map((p) => [
        p,
        {
          probability: meanCurve(per.map((m) => m.curves[p].probability)),
          logit: meanCurve(per.map((m) => m.curves[p].logit)),
          mse: meanCurve(per.map((m) => m.curves[p].mse)),
        },
      ]),
    ) as MethodSummary['curves'];
    methods[method] = { areas, curves };
  }
  return {
    settings,
    shards: [...shards].sort((a, b) => a.index - b.index),
    complete: sorted.length === expected,
    examples: {
      seen: sorted.length,
      evaluated: evaluated.length,
      misclassified: sorted.filter((r) => !r.correct).length,
      noPerturbableTokens: sorted.filter((r) => r.skipped === 'no-perturbable-tokens').length,
    },
    accuracy: sorted.length > 0 ? sorted.filter((r) => r.correct).length / sorted.length : NaN,
    fractions: fractions(settings.steps),
    methods,
  };
}

const HEADERS: Record<keyof Areas, string> = {
  auac: 'AUAC ↑',
  aupc: 'AUPC ↑',
  auMse: 'AU-MSE ↓',
  morf: 'MoRF logit ↓',
  lerf: 'LeRF logit ↑',
  gap: 'LeRF − MoRF ↑',
};

const fmt = (v: MeanWithError): string => (Number.isFinite(v.mean) ? `${v.mean.toFixed(3)} ± ${v.sem.toFixed(3)}` : '–');

/** The areas as a Markdown table (mean ± standard error over the evaluated examples). */
export function markdownTable(summary: Summary): string {
  const keys = AREA_KEYS;
  const lines = [`| method | ${keys.map((k) => HEADERS[k]).join(' | ')} |`, `|---|${keys.map(() => '---:').join('|')}|`];
  for (const method of summary.settings.methods) {
    const m = summary.methods[method];
    if (m) lines.push(`| ${method} | ${keys.map((k) => fmt(m.areas[k])).join(' | ')} |`);
  }
  const e = summary.examples;
  lines.push(
    '',
    `${e.evaluated} example(s) evaluated of ${e.seen} seen (${e.misclassified} misclassified: ${summary.settings.all ? 'included' : 'skipped'}; ${e.noPerturbableTokens} without perturbable tokens: skipped); unperturbed accuracy ${(100 * summary.accuracy).toFixed(1)}%; removed tokens replaced by ${summary.settings.replace}; ranked by ${summary.settings.rankBy} relevance; ${summary.settings.steps} steps.`,
  );
  return `${lines.join('\n')}\n`;
}
