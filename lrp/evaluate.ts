/**
 * Scoring explanations against known ground truth (the demo tasks' held-out sets): for each method,
 * over a fixed, seeded sample of examples, explain the true label and measure
 * - top-1 hit rate: the position with the highest (signed) total relevance is a ground-truth one;
 * - ground-truth mass: Σ|R| on ground-truth positions / Σ|R| over all positions;
 * - positional share: Σ|R_position| / (Σ|R_token| + Σ|R_position|);
 * - position top-1: the position with the highest positional relevance is a ground-truth one
 *   (only for methods that give positions relevance);
 * - top-1 off the read-out: as top-1, leaving out the position the model reads its answer from
 *   (a causal LM's last token, a classifier's [CLS]), which is never ground truth but often
 *   collects relevance (its own position embedding shapes the query).
 * `random` is a baseline that draws each position's relevance uniformly from [0, 1).
 */
import { InputError } from '../kernels/errors.js';
import type { TransformerModel } from '../nn/models/types.js';
import { explain } from './explain.js';
import type { MethodName } from './result.js';
import { seededUniform } from '../autograd/rng.js';

/** A method to score: a built-in one, or the `random` baseline. */
export type EvalMethod = MethodName | 'random';
/** Every method `evaluateExplanations` scores by default. */
export const EVAL_METHODS: readonly EvalMethod[] = ['gi', 'cp-lrp', 'attnlrp', 'pa-lrp', 'random'];

/** One line of a demo model's heldout.jsonl. */
export interface HeldoutExample {
  /** The example's text. */
  text: string;
  /** Its token ids. */
  ids: number[];
  /** The true label (class or next-token id): the explained target. */
  label: number;
  /** The positions that decide the answer, and whether by token, position or both. */
  groundTruth: { positions: number[]; evidence: 'token' | 'position' | 'both' };
}

/** One method's scores over the sample; rates and shares are fractions from 0 to 1. */
export interface MethodScores {
  /** The scored method. */
  method: EvalMethod;
  /** Examples explained. */
  examples: number;
  /** Share of examples whose most relevant position is a ground-truth one. */
  top1: number;
  /** Mean Σ|R| on ground-truth positions / Σ|R| over all positions. */
  groundTruthMass: number;
  /** Mean Σ|R_position| / (Σ|R_token| + Σ|R_position|). */
  positionalShare: number;
  /** Null when the method gives positions no relevance. */
  positionTop1: number | null;
  /** As `top1`, leaving out the read-out position. */
  top1OffReadout: number;
}

/**
 * A demo model's held-out set (heldout.jsonl: one example with its ground truth per line); `path`
 * names it in errors. In Node, `readHeldout(dir)` (lrp/eval/heldout.ts) reads it from a folder.
 */
export function parseHeldout(text: string, path: string): HeldoutExample[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      let e: HeldoutExample;
      try {
        e = JSON.parse(line) as HeldoutExample;
      } catch {
        throw new InputError(`${path}:${i + 1}: not valid JSON`);
      }
      if (!Array.isArray(e.ids) || !Number.isInteger(e.label) || !Array.isArray(e.groundTruth?.positions)) {
        throw new InputError(`${path}:${i + 1}: expected {"text", "ids", "label", "groundTruth": {"positions", "evidence"}}`);
      }
      return e;
    });
}

/** `n` examples picked without replacement by a seeded shuffle. */
export function sampleExamples<T>(examples: readonly T[], n: number, seed: number): T[] {
  const order = examples.map((_, i) => i);
  const next = seededUniform(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, Math.min(n, order.length)).map((i) => examples[i]!);
}

function argmaxIndex(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

interface PerExample {
  hit: boolean;
  hitOffReadout: boolean;
  mass: number;
  positional: number;
  positionHit: boolean | null;
}

function score(tokenR: readonly number[], positionR: readonly number[], truth: readonly number[], readout: number): PerExample {
  const total = tokenR.map((t, i) => t + positionR[i]!);
  const abs = total.map(Math.abs);
  const all = abs.reduce((a, b) => a + b, 0);
  const onTruth = truth.reduce((a, i) => a + (abs[i] ?? 0), 0);
  const tokenAbs = tokenR.reduce((a, b) => a + Math.abs(b), 0);
  const positionAbs = positionR.reduce((a, b) => a + Math.abs(b), 0);
  const hasPosition = positionAbs > 0;
  return {
    hit: truth.includes(argmaxIndex(total)),
    hitOffReadout: truth.includes(argmaxIndex(total.map((v, i) => (i === readout ? -Infinity : v)))),
    mass: all > 0 ? onTruth / all : 0,
    positional: tokenAbs + positionAbs > 0 ? positionAbs / (tokenAbs + positionAbs) : 0,
    positionHit: hasPosition ? truth.includes(argmaxIndex(positionR)) : null,
  };
}

/** Options of `evaluateExplanations`. */
export interface EvaluateOptions {
  /** Methods to score (default `EVAL_METHODS`). */
  methods?: readonly EvalMethod[];
  /** Examples to explain (default 100). */
  n?: number;
  /** Seeds the sample and the random baseline (default 0). */
  seed?: number;
  /** Called after each explanation. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Scores each method against the held-out ground truth on a seeded sample of `n` examples,
 * explaining each example's true label.
 */
export async function evaluateExplanations(model: TransformerModel, heldout: readonly HeldoutExample[], options: EvaluateOptions = {}): Promise<MethodScores[]> {
  const methods = options.methods ?? EVAL_METHODS;
  const seed = options.seed ?? 0;
  const sample = sampleExamples(heldout, options.n ?? 100, seed);
  const total = methods.length * sample.length;
  let done = 0;
  const results: MethodScores[] = [];
  for (const method of methods) {
    const per: PerExample[] = [];
    const random = seededUniform(seed ^ 0x5bd1e995);
    for (const e of sample) {
      const readout = model.info.kind === 'causal-lm' ? e.ids.length - 1 : 0;
      if (method === 'random') {
        per.push(score(e.ids.map(() => random()), e.ids.map(() => 0), e.groundTruth.positions, readout));
      } else {
        const x = await explain(model, { ids: [e.ids] }, { method, target: e.label });
        per.push(score(x.tokens.map((t) => t.token), x.tokens.map((t) => t.position), e.groundTruth.positions, readout));
      }
      options.onProgress?.(++done, total);
    }
    const mean = (f: (p: PerExample) => number): number => per.reduce((a, p) => a + f(p), 0) / per.length;
    const withPosition = per.filter((p) => p.positionHit !== null);
    results.push({
      method,
      examples: per.length,
      top1: mean((p) => (p.hit ? 1 : 0)),
      groundTruthMass: mean((p) => p.mass),
      positionalShare: mean((p) => p.positional),
      top1OffReadout: mean((p) => (p.hitOffReadout ? 1 : 0)),
      positionTop1: withPosition.length === per.length ? mean((p) => (p.positionHit ? 1 : 0)) : null,
    });
  }
  return results;
}

/** The scores as an aligned text table. */
export function formatScores(scores: readonly MethodScores[]): string {
  const pct = (v: number | null): string => (v === null ? '—' : `${(100 * v).toFixed(1)}%`);
  const rows = [
    ['method', 'top-1 hit', 'top-1 off read-out', 'GT mass', 'positional share', 'position top-1'],
    ...scores.map((s) => [s.method, pct(s.top1), pct(s.top1OffReadout), pct(s.groundTruthMass), s.method === 'random' ? '—' : pct(s.positionalShare), pct(s.positionTop1)]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}
