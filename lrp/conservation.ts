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
  /** Per position for inputs; one total for boundaries. */
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

export function buildReport(r: ReportInput): Explanation {
  const token = new Array<number>(r.T).fill(0);
  const positionSigned = new Array<number>(r.T).fill(0);
  const positionAbs = new Array<number>(r.T).fill(0);
  const positionalTensors: { name: string; relevance: number[] }[] = [];
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
        positionalTensors.push({ name: t.name, relevance: t.values });
        t.values.forEach((v, i) => {
          positionSigned[i]! += v;
          positionAbs[i]! += Math.abs(v);
        });
        break;
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
    details: { positionAggregation: r.aggregation, positionSigned, positionAbs, positionalTensors, modelType: r.modelType, rules: r.rules },
  };
}
