/**
 * One example through the perturbation protocols: the unperturbed prediction, a ranking per
 * method, every perturbed copy (deduplicated: all methods and protocols share copies such as the
 * all-replaced input) evaluated in batched forwards, and the curves and areas per method.
 *
 * Batching: perturbation keeps a sequence's length, so all copies of one example have the same
 * length and are batched without padding. That matters for causal LMs, whose last-position logits
 * and learned positions would shift under left or right padding in this engine.
 */
import { noGrad } from '../../autograd/graph.js';
import { mul } from '../../autograd/ops/elementwise.js';
import { tidy } from '../../autograd/scope.js';
import { ComputationError } from '../../kernels/errors.js';
import { Tensor } from '../../autograd/tensor.js';
import type { ModelInput, TransformerModel } from '../../nn/models/types.js';
import { withTaps } from '../../nn/taps.js';
import { explain } from '../explain.js';
import type { MethodName, PositionAggregation } from '../result.js';
import type { Example } from './data.js';
import { areas, argmax, fractions, PROTOCOLS, softmax, squaredDistance, type Areas, type Curve, type Curves } from './metrics.js';
import { protocolOrder, randomScores, replacedMasks } from './ranking.js';
import type { Replacement } from './tokens.js';

export type EvalMethod = MethodName | 'random';
export type RankBy = 'token' | 'total';

export interface ProtocolSettings {
  methods: EvalMethod[];
  steps: number;
  rankBy: RankBy;
  positionAggregation: PositionAggregation;
  /** Evaluate misclassified examples too (the papers keep only correct ones). */
  includeAll: boolean;
  seed: number;
  replacement: Replacement;
}

export interface MethodResult {
  curves: Curves;
  areas: Areas;
}

export type SkipReason = 'misclassified' | 'no-perturbable-tokens';

export interface ExampleResult {
  index: number;
  line: number;
  tokens: number;
  perturbable: number;
  label: number;
  predicted: number;
  correct: boolean;
  skipped?: SkipReason;
  methods?: Partial<Record<EvalMethod, MethodResult>>;
}

export interface RunContext {
  model: TransformerModel;
  settings: ProtocolSettings;
  specialIds: ReadonlySet<number>;
  /** Perturbed copies per forward. */
  batchSize: number;
}

/** Logits of the last position (classifiers: class logits) for each perturbed copy. */
async function forwardCopies(ctx: RunContext, example: Example, masks: readonly Uint8Array[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const T = example.ids.length;
  const replacement = ctx.settings.replacement;
  for (let start = 0; start < masks.length; start += ctx.batchSize) {
    const chunk = masks.slice(start, start + ctx.batchSize);
    const input: ModelInput = {
      ids: chunk.map((mask) => example.ids.map((id, p) => (mask[p] && replacement.kind === 'id' ? replacement.id : id))),
    };
    if (example.tokenTypeIds) input.tokenTypeIds = chunk.map(() => example.tokenTypeIds!);
    const logits = noGrad(() =>
      tidy(() => {
        if (replacement.kind === 'id') return ctx.model.forward(input, { lastPositionOnly: true });
        // zero-embedding: the replaced positions' token embeddings are multiplied by 0.
        const keep = Tensor.fromArray(chunk.flatMap((mask) => Array.from(mask, (m) => 1 - m)), [chunk.length, T, 1]);
        return withTaps(
          (kind, _name, t) => (kind === 'token' ? mul(t, keep) : t),
          () => ctx.model.forward(input, { lastPositionOnly: true }),
        );
      }),
    );
    const values = await logits.toArray();
    logits.dispose();
    if (!values.every(Number.isFinite)) throw new ComputationError(`example on line ${example.line}: the model produced non-finite logits`);
    const classes = values.length / chunk.length;
    for (let b = 0; b < chunk.length; b++) out.push(Float32Array.from(values.subarray(b * classes, (b + 1) * classes)));
  }
  return out;
}

async function rankingScores(ctx: RunContext, example: Example, method: EvalMethod, label: number): Promise<number[]> {
  if (method === 'random') return randomScores(ctx.settings.seed, example.index, example.ids.length);
  const input: ModelInput = { ids: [example.ids] };
  if (example.tokenTypeIds) input.tokenTypeIds = [example.tokenTypeIds];
  const e = await explain(ctx.model, input, { method, target: label, positionAggregation: ctx.settings.positionAggregation });
  return e.tokens.map((t) => (ctx.settings.rankBy === 'total' ? t.total : t.token));
}

const maskKey = (mask: Uint8Array): string => mask.join('');

export async function evaluateExample(ctx: RunContext, example: Example): Promise<ExampleResult> {
  const { settings } = ctx;
  const T = example.ids.length;
  const [y0] = await forwardCopies(ctx, example, [new Uint8Array(T)]);
  const predicted = argmax(y0!);
  const label = example.label ?? predicted;
  const positions = example.ids.flatMap((id, p) => (ctx.specialIds.has(id) ? [] : [p]));
  const result: ExampleResult = {
    index: example.index,
    line: example.line,
    tokens: T,
    perturbable: positions.length,
    label,
    predicted,
    correct: predicted === label,
  };
  if (!result.correct && !settings.includeAll) return { ...result, skipped: 'misclassified' };
  if (positions.length === 0) return { ...result, skipped: 'no-perturbable-tokens' };

  const plans = new Map<EvalMethod, Record<string, Uint8Array[]>>();
  const unique = new Map<string, Uint8Array>();
  for (const method of settings.methods) {
    const scores = await rankingScores(ctx, example, method, label);
    const perProtocol: Record<string, Uint8Array[]> = {};
    for (const protocol of PROTOCOLS) {
      const masks = replacedMasks(protocol, protocolOrder(protocol, scores, positions), T, settings.steps);
      perProtocol[protocol] = masks;
      for (const m of masks) unique.set(maskKey(m), m);
    }
    plans.set(method, perProtocol);
  }
  // The unperturbed input is already measured; reusing it makes ‖y₀ − y‖² exactly 0 at step 0.
  const logits = new Map<string, Float32Array>([[maskKey(new Uint8Array(T)), y0!]]);
  const pending = [...unique.entries()].filter(([key]) => !logits.has(key));
  const computed = await forwardCopies(ctx, example, pending.map(([, m]) => m));
  pending.forEach(([key], i) => logits.set(key, computed[i]!));

  const xs = fractions(settings.steps);
  const methods: Partial<Record<EvalMethod, MethodResult>> = {};
  for (const [method, perProtocol] of plans) {
    const curves = {} as Curves;
    for (const protocol of PROTOCOLS) {
      const curve: Curve = { probability: [], logit: [], mse: [] };
      for (const mask of perProtocol[protocol]!) {
        const y = logits.get(maskKey(mask))!;
        curve.probability.push(softmax(y)[label]!);
        curve.logit.push(y[label]!);
        curve.mse.push(squaredDistance(y0!, y));
      }
      curves[protocol] = curve;
    }
    methods[method] = { curves, areas: areas(curves, xs) };
  }
  return { ...result, methods };
}
