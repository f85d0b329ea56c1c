/**
 * From relevance measured at the taps to the Explanation: per-token and per-position relevance,
 * the conservation report (inputs + biases against the explained logit), and the per-layer
 * relevance entering (at a block's output) and leaving (at its input) each block and softmax.
 */
import type { TapKind } from '../nn/taps.js';
import type { Explanation, LayerRelevance, PositionAggregation } from './result.js';

export interface TappedRelevance {
  kind: TapKind;
  name: string;
  /** Per position for inputs; per (query, key) pair, query-major, for a positional bias; one total for boundaries. */
  values: number[];
}

export interface ReportInput {
  /** The method's name (a built-in one, or a custom MethodSpec's). */
  method: string;
  target: number;
  logit: number;
  T: number;
  ids: number[];
  texts: string[];
  relevance: TappedRelevance[];
  bias: number;
  aggregation: PositionAggregation;
  modelType: string;
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
  const input = token.reduce((a, b) => a + b, 0) + positionSigned.reduce((a, b) => a + b, 0);
  const relativeError = Math.abs(input + r.bias - r.logit) / Math.max(Math.abs(r.logit), TINY);

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
    conservation: { input, output: r.logit, bias: r.bias, relativeError },
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
