/**
 * From relevance measured at the taps to the Explanation: per-token and per-position relevance,
 * the conservation report (inputs + biases against the explained logit), and the per-layer
 * relevance entering (at a block's output) and leaving (at its input) each block and softmax.
 */
import type { TapKind } from '../nn/taps.js';
import type { RuleLosses } from './ledger.js';
import type { ConservationLedger, Explanation, LayerRelevance, PositionAggregation } from './result.js';

/** Relevance measured at one tap during an explanation. */
export interface TappedRelevance {
  /** What the tap marked (an input part, a layer boundary, a softmax). */
  kind: TapKind;
  /** The tap's name (e.g. `layers.3.rotary.cos`). */
  name: string;
  /** Per position for inputs; per (query, key) pair, query-major, for a positional bias; one total for boundaries. */
  values: number[];
}

/** What `buildReport` turns into an Explanation: the target, the measured relevance and the rule losses. */
export interface ReportInput {
  /** The method's name (a built-in one, or a custom MethodSpec's). */
  method: string;
  /** The explained id. */
  target: number;
  /** The explained output (the target logit, or its difference with the contrast's). */
  logit: number;
  /** Sequence length. */
  T: number;
  /** Input ids per position. */
  ids: number[];
  /** Display text per position. */
  texts: string[];
  /** Everything the taps measured. */
  relevance: TappedRelevance[];
  /** Σ b ⊙ ĝ_b over the bias leaves. */
  bias: number;
  /** What the ops absorbed, measured during the backward (lrp/ledger.ts). */
  ruleLosses: RuleLosses;
  /** How position relevance is summed over layers and PE parts. */
  aggregation: PositionAggregation;
  /** `model_type` of the explained model. */
  modelType: string;
  /** Which rule replaced which op's gradient, on how many nodes. */
  rules: { op: string; rule: string; nodes: number }[];
}

/** Smallest |logit| the relative error divides by, so a zero logit does not divide by zero. */
const TINY = 1e-12;

/** [T·T] query-major pair relevance → per key j (Σ_i) and per distance d = i − j ≥ 0 (Σ over the diagonal). */
export function pairwiseRelevance(pairs: readonly number[], T: number): { perKey: number[]; perDistance: number[] } {
  if (pairs.length !== T * T) throw new Error(`pairwiseRelevance: expected ${T * T} values, got ${pairs.length}`);
  const perKey = new Array<number>(T).fill(0);
  const perDistance = new Array<number>(T).fill(0);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      const v = pairs[i * T + j]!;
      perKey[j]! += v;
      // Entries above the diagonal (future keys) are masked and carry no relevance; keep them in
      // the per-key sum so nothing is dropped, and out of the distance table.
      if (j <= i) perDistance[i - j]! += v;
    }
  }
  return { perKey, perDistance };
}

/** The ledger from its measured terms; the remainder is what they leave of the output. */
export function closeLedger(output: number, tokens: number, positions: number, biases: number, losses: RuleLosses): ConservationLedger {
  const softmax = losses.softmax.map((s) => ({ name: s.name, lost: s.lost }));
  const unexplained = losses.stabilizers + softmax.reduce((a, s) => a + s.lost, 0) + losses.constantPositional + losses.otherOps;
  return {
    tokens,
    positions,
    biases,
    stabilizers: losses.stabilizers,
    softmax,
    constantPositional: losses.constantPositional,
    otherOps: losses.otherOps,
    unexplained,
    remainder: output - (tokens + positions + biases + unexplained),
  };
}

/** |output − input − bias| / |output|: the share the rules left unexplained (rule losses and rounding), for --assert-conservation. */
export function unexplainedFraction(c: { input: number; output: number; bias: number }): number {
  return Math.abs(c.output - c.input - c.bias) / Math.max(Math.abs(c.output), TINY);
}

/**
 * Builds the Explanation from measured relevance: per-token and per-position sums, per-layer totals, and the conservation report with its ledger.
 */
export function buildReport(r: ReportInput): Explanation {
  const token = new Array<number>(r.T).fill(0);
  const positionSigned = new Array<number>(r.T).fill(0);
  const positionAbs = new Array<number>(r.T).fill(0);
  const positionalTensors: { name: string; relevance: number[] }[] = [];
  const positionalDistances: { name: string; relevance: number[] }[] = [];
  const addPositional = (name: string, perPosition: number[]): void => {
    positionalTensors.push({ name, relevance: perPosition });
    perPosition.forEach((v, i) => {
      positionSigned[i]! += v;
      positionAbs[i]! += Math.abs(v);
    });
  };
  const layers = new Map<string, LayerRelevance>();
  const layer = (name: string): LayerRelevance => {
    let entry = layers.get(name);
    if (!entry) layers.set(name, (entry = { name, in: 0, out: 0 }));
    return entry;
  };

  for (const t of r.relevance) {
    switch (t.kind) {
      case 'token':
      case 'segment':
        t.values.forEach((v, i) => (token[i]! += v));
        break;
      case 'position':
        addPositional(t.name, t.values);
        break;
      case 'position-bias': {
        // A bias on the logit of query i for key j belongs to key position j (the position whose
        // score it shifts) and to the distance i − j.
        const { perKey, perDistance } = pairwiseRelevance(t.values, r.T);
        addPositional(t.name, perKey);
        positionalDistances.push({ name: t.name, relevance: perDistance });
        break;
      }
      case 'layer-output':
      case 'softmax-output':
        layer(t.name).in = t.values[0]!;
        break;
      case 'layer-input':
      case 'softmax-input':
        layer(t.name).out = t.values[0]!;
        break;
    }
  }
  const position = r.aggregation === 'abs' ? positionAbs : positionSigned;
  const tokens = token.reduce((a, b) => a + b, 0);
  const positions = positionSigned.reduce((a, b) => a + b, 0);
  const input = tokens + positions;
  const ledger = closeLedger(r.logit, tokens, positions, r.bias, r.ruleLosses);
  const relativeError = Math.abs(ledger.remainder) / Math.max(Math.abs(r.logit), TINY);

  return {
    method: r.method,
    target: r.target,
    logit: r.logit,
    tokens: token.map((tok, i) => ({
      index: i,
      id: r.ids[i]!,
      text: r.texts[i] ?? `#${r.ids[i]}`,
      token: tok,
      position: position[i]!,
      total: tok + position[i]!,
    })),
    conservation: { input, output: r.logit, bias: r.bias, relativeError, ledger },
    layers: [...layers.values()],
    details: {
      positionAggregation: r.aggregation,
      positionSigned,
      positionAbs,
      positionalTensors,
      ...(positionalDistances.length > 0 ? { positionalDistances } : {}),
      modelType: r.modelType,
      rules: r.rules,
    },
  };
}
