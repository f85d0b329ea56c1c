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
import type { Storage } from '../autograd/storage.js';
import { Tensor } from '../autograd/tensor.js';
import { InputError } from '../kernels/errors.js';
import type { ForwardOptions, LogitRowHead, ModelInput, TransformerModel } from '../nn/models/types.js';
import { withTaps, type TapInfo, type TapKind } from '../nn/taps.js';
import { captureSet, inRequestOrder, readCaptured, type Captured } from './capture.js';
import { relevancePerPosition } from './positions.js';
import { ruleResolver } from './composites.js';
import { buildReport, type TappedRelevance } from './conservation.js';
import { LedgerRecorder } from './ledger.js';
import { DotBatch, withDotBatch } from './dotBatch.js';
import { assertFiniteLogits, assertFiniteRelevance, locateFirstNonFiniteTap } from './finite.js';
import { DEFAULT_EPSILON, isMethodName, methodSpec, METHOD_NAMES, type MethodSpec } from './methods.js';
import type { Explanation, MethodName, PositionAggregation } from './result.js';
import { resolveTarget, targetText, type TargetSpec } from './target.js';
import type { TokenSpan } from '../nn/tokenizer.js';

/** Text, encoded by the model's tokenizer (`model.tokenizer`, attached by loadModel). */
export interface TextInput {
  /** The input text (the tokenizer adds special tokens). */
  text: string;
}

/** What explain() takes: token ids (or pixels), or text. */
export type ExplainInput = ModelInput | TextInput;

/** Options of `explain`: the method, what to explain (target, contrast) and what to return. */
export interface ExplainOptions {
  /** A built-in method by name, or any MethodSpec (custom rules, composites). */
  method: MethodName | MethodSpec;
  /**
   * Class (classifier) or vocabulary id (causal LM, last position); default: the argmax. A string
   * names a class label (config.json `id2label`) or, for a causal LM, one token of the tokenizer.
   */
  target?: TargetSpec;
  /**
   * Contrastive attribution: explain logit[target] − logit[contrast] (an id, label or token like
   * `target`) with one backward pass; conservation is then reported for that difference.
   */
  contrast?: TargetSpec;
  /** How per-position relevance is summed over layers and PE parts (default 'signed'). */
  positionAggregation?: PositionAggregation;
  /** Override the method's default: PE tensors as inputs (true) or constants (false). */
  positionalInputs?: boolean;
  /** Epsilon of the epsilon rule (built-in LRP methods given by name): finite and >= 0. */
  epsilon?: number;
  /**
   * Module paths (`layers.3.mlp`, `layers.0.self_attn.o_proj`, `layers.1`) whose output relevance
   * y ⊙ ĝ_y to return in `Explanation.captured`, element by element.
   */
  capture?: readonly string[];
  /** Display text per input position (e.g. from the tokenizer). */
  tokenTexts?: string[];
}

interface Tapped {
  kind: TapKind;
  name: string;
  tensor: Tensor;
  info: TapInfo;
}

const INPUT_KINDS: ReadonlySet<TapKind> = new Set(['token', 'segment', 'position', 'position-bias']);
const POSITIONAL_KINDS: ReadonlySet<TapKind> = new Set(['position', 'position-bias']);

/** Ids, segment ids and character spans of text input; ids pass through. */
function encodeInput(model: TransformerModel, input: ExplainInput): { input: ModelInput; spans?: (TokenSpan | undefined)[] } {
  if (!('text' in input) || input.text === undefined) return { input: input as ModelInput };
  if ('ids' in input || 'pixelValues' in input) throw new InputError('explain: give text or ids (or pixels), not both');
  if (typeof input.text !== 'string' || input.text.trim() === '') throw new InputError('explain: the text is empty');
  if (!model.tokenizer) throw new InputError("explain: text input needs the model's tokenizer (tokenizer.json beside the weights, or set model.tokenizer); pass ids instead");
  const encoded = model.tokenizer.encode(input.text);
  if (encoded.ids.length === 0) throw new InputError('explain: the tokenizer produced no tokens');
  return { input: { ids: [encoded.ids], tokenTypeIds: [encoded.tokenTypeIds] }, spans: encoded.spans };
}

/** An id the logits have, or an InputError naming the option. */
function checkedId(id: number, what: string, classes: number, model: TransformerModel): number {
  if (!Number.isInteger(id) || id < 0 || id >= classes) {
    throw new InputError(`explain: ${what} ${id} is out of range (the model has ${classes} ${model.info.kind === 'classifier' ? 'classes' : 'vocabulary ids'})`);
  }
  return id;
}

function sequenceLength(model: TransformerModel, input: ModelInput): number {
  if (model.info.image) return model.info.maxPositions;
  const ids = input.ids;
  if (!ids || ids.length === 0 || ids[0]!.length === 0) throw new InputError('explain: the input is empty (no token ids)');
  return ids[0]!.length;
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

/** Relevance of an input tap: per position (along the tap's position axis), or per (query, key) pair for a positional bias. */
function inputRelevance(t: Tapped): Tensor | null {
  return t.kind === 'position-bias' ? relevancePerPair(t.tensor) : relevancePerPosition(t.tensor, t.info);
}

/** Queues Σ x ⊙ grad over the whole tensor on `batch`: its id there, or −1 when no gradient arrived. */
function relevanceTotal(batch: DotBatch, t: Tensor): number {
  return t.grad ? batch.add(t, t.grad) : -1;
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

/** The MethodSpec the options name (built-in names with their ε); an InputError for a bad method or ε. */
export function methodOf(options: Pick<ExplainOptions, 'method' | 'epsilon'>): MethodSpec {
  const epsilon = options.epsilon ?? DEFAULT_EPSILON;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon < 0) {
    throw new InputError(`explain: epsilon must be a finite number >= 0, got ${String(epsilon)}`);
  }
  return resolveMethod(options.method, epsilon);
}

function resolveMethod(method: MethodName | MethodSpec, epsilon: number): MethodSpec {
  if (typeof method === 'object' && method !== null) return method;
  if (!isMethodName(method)) throw new InputError(`explain: unknown method "${String(method)}" (choose one of ${METHOD_NAMES.join(', ')})`);
  return methodSpec(method, epsilon);
}

/**
 * Adds what is known about the targets and tokens: the target's (and contrast's) text, the
 * contrast's logit, and each token's characters in the input text. `logit` stays the target's
 * own logit; with a contrast, `conservation.output` is the explained difference.
 */
function describeTargets(
  report: Explanation,
  model: TransformerModel,
  t: { target: number; logit: number; contrast: number | undefined; contrastLogit: number | undefined; spans: (TokenSpan | undefined)[] | undefined },
): Explanation {
  const out: Pick<Explanation, 'targetText' | 'contrast' | 'contrastText' | 'contrastLogit'> = {};
  const text = targetText(model, t.target);
  if (text !== undefined) out.targetText = text;
  if (t.contrast !== undefined) {
    out.contrast = t.contrast;
    const contrastText = targetText(model, t.contrast);
    if (contrastText !== undefined) out.contrastText = contrastText;
    out.contrastLogit = t.contrastLogit!;
  }
  const { method, tokens: reported, logit: _explained, target: _target, ...rest } = report;
  const tokens = t.spans
    ? reported.map((token, i) => {
        const span = t.spans![i];
        return span ? { ...token, start: span.start, end: span.end } : token;
      })
    : reported;
  // Key order as the JSON shows it: the target and what it is compared with, then the rest.
  return { method, target: t.target, ...out, logit: t.logit, tokens, ...rest };
}

/**
 * Explains one prediction: a forward with the method's backward rules bound, one backward from
 * the target logit (or target − contrast), relevance x ⊙ ĝ at every token and positional input,
 * and the conservation ledger. Bad input throws `InputError`; a non-finite result `ComputationError`.
 *
 * @example
 * ```ts
 * import { init, loadModel, explain, renderAnsi } from 'transformer-lrp';
 *
 * await init();
 * const model = await loadModel('models/sentiment');            // a shipped demo model
 * const e = await explain(model, { text: 'the plot was not good' }, { method: 'pa-lrp', target: 'negative' });
 * console.log(renderAnsi(e));                                   // token and position relevance
 * console.log(e.conservation.ledger);                          // where the logit went
 * model.dispose();
 * ```
 */
export async function explain(model: TransformerModel, given: ExplainInput, options: ExplainOptions): Promise<Explanation> {
  return (await explainRecorded(model, given, options, null))[0]!;
}

/**
 * One output of a recorded forward to explain: the logit row at `position`,
 * with relevance reported over the first `position + 1` tokens (causal masking: nothing later
 * reaches it). `target` undefined: that row's argmax.
 */
export interface PositionTarget {
  position: number;
  target?: number;
}

/** one-hot(target) − one-hot(contrast) over a row of `classes` logits. */
function oneHotSeed(classes: number, target: number, contrast: number | undefined): Float32Array {
  const oneHot = new Float32Array(classes);
  oneHot[target] = 1;
  if (contrast !== undefined) oneHot[contrast] = -1;
  return oneHot;
}

/** Zeroes the gradients a backward left on `tensors`, so the next backward over the same graph starts clean. */
function clearGrads(tensors: readonly Tensor[]): void {
  for (const t of tensors) {
    t.grad?.dispose();
    t.grad = null;
  }
}

/** The relevance of a tap over the first `L` of `T` positions (a pair bias: its L × L query-key block). */
function prefixOf(values: number[], kind: TapKind, T: number, L: number): number[] {
  if (L === T) return values;
  if (kind === 'position-bias') {
    const out: number[] = [];
    for (let i = 0; i < L; i++) out.push(...values.slice(i * T, i * T + L));
    return out;
  }
  return INPUT_KINDS.has(kind) ? values.slice(0, L) : values;
}

/**
 * explain() and explainGeneration() share this: one forward with the rules bound, then one
 * backward per requested output over that one graph (kept between them with `retainGraph`).
 * `positions` null: explain's single prediction (the last position, or a classifier's logits);
 * otherwise causal-LM logits at the requested positions only, each position's by its own head
 * product (ForwardOptions.logitPositions), and each entry explained from its own row, over its prefix.
 * `onProgress` is called after the forward and after each explained output.
 */
export async function explainRecorded(
  model: TransformerModel,
  given: ExplainInput,
  options: ExplainOptions,
  positions: readonly PositionTarget[] | null,
  onProgress?: () => void,
): Promise<Explanation[]> {
  const { input, spans } = encodeInput(model, given);
  // Strings name labels or tokens; resolved (and refused) before the forward pass.
  const wantedTarget = options.target === undefined ? undefined : resolveTarget(model, options.target, 'target');
  const contrast = options.contrast === undefined ? undefined : resolveTarget(model, options.contrast, 'contrast');
  const spec = methodOf(options);
  const capture = captureSet(model, options.capture);
  const batch = input.ids?.length ?? input.pixelValues?.shape[0] ?? 0;
  if (batch !== 1) throw new InputError(`explain: explains one sequence at a time (got a batch of ${batch})`);
  const T = sequenceLength(model, input);
  input.ids?.[0]?.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= model.info.vocabSize) {
      throw new InputError(`explain: id ${id} at position ${i} is outside the vocabulary (size ${model.info.vocabSize})`);
    }
  });
  if (!model.info.image && T > model.info.maxPositions) {
    throw new InputError(`explain: the sequence has ${T} tokens, more than max_position_embeddings (${model.info.maxPositions})`);
  }
  const positional = options.positionalInputs ?? spec.positionalInputs;

  const tapped: Tapped[] = [];
  const captured: Captured[] = [];
  // Per-call leaves over the biases' data, so the relevance they absorb can be measured
  // (R_b = b ⊙ grad b) without marking the shared parameters: concurrent calls stay independent.
  const biases: Tensor[] = [];
  // Positional tensors held constant in this call: the ledger books what the nodes reading them absorb.
  const constantPositional = new Set<Storage>();
  const observer = (kind: TapKind, name: string, t: Tensor, info: TapInfo): Tensor => {
    if (kind === 'bias') {
      const leaf = noGrad(() => reshape(t, t.shape));
      leaf.setRequiresGrad(true);
      biases.push(leaf);
      return leaf;
    }
    if (kind === 'module-output') {
      if (capture.has(name) && t.requiresGrad) {
        t.retainGrad();
        captured.push({ path: name, tensor: t });
      }
      return t;
    }
    if (INPUT_KINDS.has(kind)) {
      // A fresh leaf over the same data: relevance stops here and is read as x ⊙ grad.
      const leaf = noGrad(() => reshape(t, t.shape));
      leaf.setRequiresGrad(!POSITIONAL_KINDS.has(kind) || positional);
      if (!leaf.requiresGrad) constantPositional.add(leaf.storage);
      tapped.push({ kind, name, tensor: leaf, info });
      return leaf;
    }
    if (t.requiresGrad) {
      t.retainGrad();
      tapped.push({ kind, name, tensor: t, info });
    }
    return t;
  };

  let logits: Tensor | null = null;
  let ledger: LedgerRecorder | null = null;
  const toDispose: Tensor[] = [];
  // The explained logits recorded from a row's head, one per step: graphs of their own to release.
  const narrowRoots: Tensor[] = [];
  try {
    // Several positions: one head product per position, so each backward runs through its own only.
    const rows: Tensor[] = [];
    // Causal LMs: each row's head, from which the explained logits alone are recorded after the forward.
    const heads: LogitRowHead[] = [];
    const onLogitRow = (i: number, row: Tensor, head: LogitRowHead): void => {
      rows[i] = row;
      heads[i] = head;
    };
    const forwardOptions: ForwardOptions =
      positions === null ? { lastPositionOnly: true, onLogitRow } : { logitPositions: positions.map((p) => p.position), onLogitRow };
    const resolver = ruleResolver(spec);
    const forward = tidy(() =>
      withBackwardRules(resolver, () =>
        withTaps(observer, () => {
          const out = model.forward(input, forwardOptions);
          // A tensor both tapped and captured is kept (and later disposed) once.
          const kept = [...new Set([...tapped.map((t) => t.tensor), ...captured.map((c) => c.tensor), ...biases, ...rows, ...heads.map((h) => h.hidden)])];
          return { out, kept };
        }),
      ),
    );
    logits = forward.out;
    toDispose.push(...forward.kept);
    if (positions !== null && rows.length !== positions.length) throw new Error(`explain: ${model.info.modelType} gave ${rows.length} logit rows for ${positions.length} positions`);
    const values = await logits.toArray();
    // No argmax over NaN: a non-finite output is an error naming the layer where it began.
    await assertFiniteLogits(values, () => locateFirstNonFiniteTap(tapped));
    const classes = logits.shape[logits.rank - 1]!;
    if (!logits.requiresGrad) throw new Error('explain: the logits do not depend on any input (nothing requires grad)');
    onProgress?.();
    const softmaxNames = new Map(tapped.filter((t) => t.kind === 'softmax-output').map((t) => [t.tensor, t.name] as const));
    const requests: readonly PositionTarget[] = positions ?? [wantedTarget === undefined ? { position: T - 1 } : { position: T - 1, target: wantedTarget }];
    const explanations: Explanation[] = [];
    for (let step = 0; step < requests.length; step++) {
      const { position } = requests[step]!;
      // The row of logits this output reads: the only row (last position only), or the step's.
      const offset = positions === null ? 0 : step * classes;
      const row = values.subarray(offset, offset + classes);
      let target = requests[step]!.target;
      if (target === undefined) {
        target = 0;
        for (let i = 1; i < classes; i++) if (row[i]! > row[target]!) target = i;
      } else checkedId(target, 'target', classes, model);
      if (contrast !== undefined) {
        checkedId(contrast, 'contrast', classes, model);
        if (contrast === target) throw new InputError(`explain: contrast ${contrast} is the target itself (the difference would be 0)`);
      }
      // What the backward starts from: the explained logits alone, recorded from the row's head (a
      // backward then reads those rows of the head matrix, not all V); without a head (classifiers),
      // the logits, or the step's own row of them.
      const head = heads[step];
      const explainedIds = contrast === undefined ? [target] : [target, contrast];
      const root = head ? tidy(() => withBackwardRules(resolver, () => head.logitsOf(explainedIds))) : positions === null ? logits : rows[step]!;
      if (head) narrowRoots.push(root);
      const rules = rulesApplied(root);
      const logit = row[target]!;
      // The explained output: the target's logit, or its difference from the contrast's.
      const explained = contrast === undefined ? logit : logit - row[contrast]!;

      // A second backward over the graph adds to the gradients of the first: start from zero.
      if (step > 0) clearGrads([...tapped.map((t) => t.tensor), ...biases, ...captured.map((c) => c.tensor)]);
      // One batch of dot products for the ledger's terms and the relevance totals: one read at the end.
      const batch = new DotBatch();
      ledger = new LedgerRecorder(constantPositional, softmaxNames, batch);
      const onNode = ledger.onNode;
      // Every backward but the last keeps the graph's saved buffers for the next one.
      const retainGraph = step < requests.length - 1;
      const sums = tidy(() => {
        // Relevance is linear in the seed: one-hot(target) − one-hot(contrast) explains the difference.
        const seed = Tensor.fromArray(head ? Float32Array.from(explainedIds, (_, k) => (k === 0 ? 1 : -1)) : oneHotSeed(classes, target!, contrast), root.shape);
        // Rules that read a pair the ledger measures may sum it in their own kernel (the ε-rule).
        withDotBatch(batch, () => backward(root, { seed, onNode, retainGraph }));
        return noGrad(() => ({
          tapped: tapped.map((t) => (INPUT_KINDS.has(t.kind) ? inputRelevance(t) : null)),
          totals: tapped.map((t) => (!INPUT_KINDS.has(t.kind) ? relevanceTotal(batch, t.tensor) : null)),
          bias: biases.map((b) => relevanceTotal(batch, b)),
          captured: captured.map((c) => (c.tensor.grad ? mul(c.tensor, c.tensor.grad) : null)),
        }));
      });
      // The positional taps' per-position relevance in one submit, beside the batch's.
      const readAll = async (ts: readonly (Tensor | null)[]): Promise<(number[] | null)[]> => {
        const present = ts.filter((t): t is Tensor => t !== null);
        try {
          const values = await Tensor.toArrays(present);
          let k = 0;
          return ts.map((t) => (t ? Array.from(values[k++]!) : null));
        } finally {
          for (const t of present) t.dispose();
        }
      };
      const [dots, perPosition] = await Promise.all([batch.read(), readAll(sums.tapped)]);
      // Causal masking: the logit at `position` depends on the first L tokens only.
      const L = position + 1;
      const relevance: TappedRelevance[] = [];
      for (let i = 0; i < tapped.length; i++) {
        const total = sums.totals[i];
        const values = total === null || total === undefined ? perPosition[i]! : total < 0 ? null : [dots[total]!];
        const kind = tapped[i]!.kind;
        const none = kind === 'position-bias' ? L * L : INPUT_KINDS.has(kind) ? L : 1;
        relevance.push({ kind, name: tapped[i]!.name, values: values ? prefixOf(values, kind, T, L) : new Array<number>(none).fill(0) });
      }
      let bias = 0;
      for (const id of sums.bias) bias += id < 0 ? 0 : dots[id]!;
      assertFiniteRelevance(relevance, bias, spec.name);
      const capturedRelevance = await readCaptured(captured, sums.captured);
      const ruleLosses = ledger.losses(dots);
      ledger = null;

      const ids = (input.ids?.[0] ?? Array.from({ length: T }, (_, i) => (i === 0 ? -1 : i - 1))).slice(0, L);
      const tokenizer = model.tokenizer;
      const report = buildReport({
        method: spec.name,
        target,
        logit: explained,
        T: L,
        ids,
        texts:
          options.tokenTexts?.slice(0, L) ??
          ids.map((id) => (model.info.image ? (id < 0 ? '[CLS]' : `patch ${id}`) : tokenizer ? tokenizer.tokenText(id) : `#${id}`)),
        relevance,
        bias,
        ruleLosses,
        aggregation: options.positionAggregation ?? 'signed',
        modelType: model.info.modelType,
        rules,
      });
      if (capture.size > 0) report.captured = inRequestOrder(capturedRelevance, capture);
      onProgress?.();
      explanations.push(describeTargets(report, model, { target, logit, contrast, contrastLogit: contrast === undefined ? undefined : row[contrast]!, spans }));
    }
    return explanations;
  } finally {
    // After the last backward the graph is already released; after an error it may not be.
    ledger?.dispose();
    if (logits) releaseGraph(logits);
    for (const root of narrowRoots) {
      releaseGraph(root);
      root.dispose();
    }
    logits?.dispose();
    for (const t of toDispose) t.dispose();
  }
}
