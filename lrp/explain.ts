/**
 * explain(): one forward with the method's backward rules bound and the model's inputs made
 * gradient leaves (via taps), one backward from the target logit, then relevance = x ⊙ grad at
 * every token embedding and positional tensor, plus the conservation report.
 */
import { backward, releaseGraph, topologicalNodes } from '../autograd/backward.js';
import { noGrad, withBackwardRules } from '../autograd/graph.js';
import { mul } from '../autograd/ops/elementwise.js';
import { sum } from '../autograd/ops/reduce.js';
import { reshape } from '../autograd/ops/view.js';
import { tidy } from '../autograd/scope.js';
import { Tensor } from '../autograd/tensor.js';
import type { ModelInput, TransformerModel } from '../nn/models/types.js';
import { withTaps, type TapKind } from '../nn/taps.js';
import { buildReport, type TappedRelevance } from './conservation.js';
import { DEFAULT_EPSILON, isMethodName, methodSpec, METHOD_NAMES } from './methods.js';
import type { Explanation, MethodName, PositionAggregation } from './result.js';

export interface ExplainOptions {
  method: MethodName;
  /** Class (classifier) or vocabulary id (causal LM, last position); default: the argmax. */
  target?: number;
  /** How per-position relevance is summed over layers and PE parts (default 'signed'). */
  positionAggregation?: PositionAggregation;
  /** Override the method's default: PE tensors as inputs (true) or constants (false). */
  positionalInputs?: boolean;
  /** Epsilon of the epsilon rule (LRP methods). */
  epsilon?: number;
  /** Display text per input position (e.g. from the tokenizer). */
  tokenTexts?: string[];
}

interface Tapped {
  kind: TapKind;
  name: string;
  tensor: Tensor;
}

const INPUT_KINDS: ReadonlySet<TapKind> = new Set(['token', 'segment', 'position', 'position-bias']);
const POSITIONAL_KINDS: ReadonlySet<TapKind> = new Set(['position', 'position-bias']);

function sequenceLength(model: TransformerModel, input: ModelInput): number {
  if (model.info.image) return model.info.maxPositions;
  const ids = input.ids;
  if (!ids || ids.length === 0 || ids[0]!.length === 0) throw new Error('explain: the input is empty (no token ids)');
  return ids[0]!.length;
}

/** Σ_d x ⊙ grad per position (last axis summed), or null when no gradient arrived. */
function relevancePerPosition(t: Tensor): Tensor | null {
  return t.grad ? reshape(sum(mul(t, t.grad), -1), [-1]) : null;
}

/**
 * A pairwise positional bias [H, T, S]: Σ_h x ⊙ grad, flattened [T·S] (query-major), or null when
 * no gradient arrived. The report sums it per key and per distance.
 */
function relevancePerPair(t: Tensor): Tensor | null {
  if (!t.grad) return null;
  const [H, T, S] = t.shape as [number, number, number];
  return reshape(sum(reshape(mul(t, t.grad), [H, T * S]), 0), [-1]);
}

/** Relevance of an input tap: per position, or per (query, key) pair for a positional bias. */
function inputRelevance(kind: TapKind, t: Tensor): Tensor | null {
  return kind === 'position-bias' ? relevancePerPair(t) : relevancePerPosition(t);
}

/** Σ x ⊙ grad over the whole tensor, or null when no gradient arrived. */
function relevanceTotal(t: Tensor): Tensor | null {
  return t.grad ? sum(mul(t, t.grad)) : null;
}

/** Counts, per op and rule, the graph nodes whose gradient a rule replaced. */
function rulesApplied(root: Tensor): { op: string; rule: string; nodes: number }[] {
  const counts = new Map<string, { op: string; rule: string; nodes: number }>();
  for (const node of topologicalNodes(root)) {
    if (!node.rule) continue;
    const key = `${node.op}/${node.rule}`;
    const entry = counts.get(key) ?? { op: node.op, rule: node.rule, nodes: 0 };
    entry.nodes++;
    counts.set(key, entry);
  }
  return [...counts.values()];
}

export async function explain(model: TransformerModel, input: ModelInput, options: ExplainOptions): Promise<Explanation> {
  if (!isMethodName(options.method)) {
    throw new Error(`explain: unknown method "${String(options.method)}" (choose one of ${METHOD_NAMES.join(', ')})`);
  }
  const batch = input.ids?.length ?? input.pixelValues?.shape[0] ?? 0;
  if (batch !== 1) throw new Error(`explain: explains one sequence at a time (got a batch of ${batch})`);
  const T = sequenceLength(model, input);
  if (!model.info.image && T > model.info.maxPositions) {
    throw new Error(`explain: the sequence has ${T} tokens, more than max_position_embeddings (${model.info.maxPositions})`);
  }
  const spec = methodSpec(options.method, options.epsilon ?? DEFAULT_EPSILON);
  const positional = options.positionalInputs ?? spec.positionalInputs;

  // Biases become leaves so the relevance they absorb can be measured (R_b = b ⊙ grad b).
  const biases = model
    .parameters()
    .filter((p) => p.loaded && p.name.endsWith('.bias'))
    .flatMap((p) => p.rowShards());
  const uniqueBiases = [...new Set(biases)];
  for (const b of uniqueBiases) b.setRequiresGrad(true);

  const tapped: Tapped[] = [];
  const observer = (kind: TapKind, name: string, t: Tensor): Tensor => {
    if (INPUT_KINDS.has(kind)) {
      // A fresh leaf over the same data: relevance stops here and is read as x ⊙ grad.
      const leaf = noGrad(() => reshape(t, t.shape));
      leaf.setRequiresGrad(!POSITIONAL_KINDS.has(kind) || positional);
      tapped.push({ kind, name, tensor: leaf });
      return leaf;
    }
    if (t.requiresGrad) {
      t.retainGrad();
      tapped.push({ kind, name, tensor: t });
    }
    return t;
  };

  let logits: Tensor | null = null;
  const toDispose: Tensor[] = [];
  try {
    const forward = tidy(() =>
      withBackwardRules(spec.rules, () =>
        withTaps(observer, () => {
          const out = model.forward(input, { lastPositionOnly: true });
          return { out, kept: tapped.map((t) => t.tensor) };
        }),
      ),
    );
    logits = forward.out;
    toDispose.push(...forward.kept);
    const values = await logits.toArray();
    const classes = values.length;
    let target = options.target;
    if (target === undefined) {
      target = 0;
      for (let i = 1; i < classes; i++) if (values[i]! > values[target]!) target = i;
    } else if (!Number.isInteger(target) || target < 0 || target >= classes) {
      throw new Error(`explain: target ${target} is out of range (the model has ${classes} ${model.info.kind === 'classifier' ? 'classes' : 'vocabulary ids'})`);
    }
    const logit = values[target]!;
    if (!logits.requiresGrad) throw new Error('explain: the logits do not depend on any input (nothing requires grad)');

    const rules = rulesApplied(logits);
    const sums = tidy(() => {
      const oneHot = new Float32Array(classes);
      oneHot[target!] = 1;
      const seed = Tensor.fromArray(oneHot, logits!.shape);
      backward(logits!, { seed });
      return noGrad(() => ({
        tapped: tapped.map((t) => (INPUT_KINDS.has(t.kind) ? inputRelevance(t.kind, t.tensor) : relevanceTotal(t.tensor))),
        bias: uniqueBiases.map(relevanceTotal),
      }));
    });
    const read = async (t: Tensor | null): Promise<number[] | null> => {
      if (!t) return null;
      const v = Array.from(await t.toArray());
      t.dispose();
      return v;
    };
    const relevance: TappedRelevance[] = [];
    for (let i = 0; i < tapped.length; i++) {
      const values = await read(sums.tapped[i]!);
      const kind = tapped[i]!.kind;
      const none = kind === 'position-bias' ? T * T : INPUT_KINDS.has(kind) ? T : 1;
      relevance.push({ kind, name: tapped[i]!.name, values: values ?? new Array<number>(none).fill(0) });
    }
    let bias = 0;
    for (const b of sums.bias) bias += (await read(b))?.[0] ?? 0;

    const ids = input.ids?.[0] ?? Array.from({ length: T }, (_, i) => (i === 0 ? -1 : i - 1));
    return buildReport({
      method: options.method,
      target,
      logit,
      T,
      ids,
      texts: options.tokenTexts ?? ids.map((id) => (model.info.image ? (id < 0 ? '[CLS]' : `patch ${id}`) : `#${id}`)),
      relevance,
      bias,
      aggregation: options.positionAggregation ?? 'signed',
      modelType: model.info.modelType,
      rules,
    });
  } finally {
    // After a successful backward the graph is already released; after an error it is not.
    if (logits) releaseGraph(logits);
    logits?.dispose();
    for (const t of toDispose) t.dispose();
    for (const b of uniqueBiases) {
      b.grad?.dispose();
      b.grad = null;
      b.setRequiresGrad(false);
    }
  }
}
