/**
 * The autodiff graph: one Node per recorded op, holding what its backward needs. `noGrad` turns
 * recording off; backward overrides (`withBackwardRules`) change what a node's backward does.
 */
import type { OpAttrs, OpName, OpRole } from './opTypes.js';
import type { Tensor } from './tensor.js';

/** What a backward function sees of the op it differentiates. */
export interface BackwardContext<A = unknown> {
  /** The op's registered name (`'linear'`, `'softmax'`, …). */
  readonly op: string;
  /** The op's inputs as saved at record time (still readable when the caller disposed them). */
  readonly inputs: readonly Tensor[];
  /** The op's output as saved at record time. */
  readonly output: Tensor;
  /** The op's attributes (`OpAttrs[name]`), as recorded. */
  readonly attrs: A;
  /** Which inputs need a gradient; a backward may return null for the others. */
  readonly needsGrad: readonly boolean[];
  /** The op's own backward, for rules that modify it rather than replace it. */
  defaultBackward(gradOutput: Tensor): (Tensor | null)[];
  /**
   * The op's own backward of `factor`·g, present when the op can fold the factor into its kernels
   * at no cost (the matrix products' alpha); otherwise scale g first.
   */
  readonly scaledBackward?: (gradOutput: Tensor, factor: number) => (Tensor | null)[];
  /**
   * Hands the gradient the sweep has accumulated so far for input `input` (from the input's other
   * consumers, which the sweep has already passed) to this backward, which then returns, for that
   * input, that prior plus its own gradient: a backward with a kernel of its own folds the prior
   * in as an addend (`out = gradient + prior`) and saves the sweep's separate add.
   *
   * Optional in every sense: the sweep provides it to the backward bound to a node (not to the
   * `ctx` that `defaultBackward` passes on), and a backward that never calls it keeps working
   * unchanged. It returns null when nothing is accumulated yet, when the input needs no gradient,
   * or when the prior was already taken. Once it has returned a tensor, the backward must return
   * a gradient for that input that includes it exactly once (returning null for it hands the
   * prior back to the sweep); the tensor is the sweep's, valid during the call, never to be
   * disposed. A rule that post-processes another rule's result (calls its `backward(ctx, g)` and
   * scales or combines what it returns) must pass that rule a context without this member, since
   * the prior would be transformed along with the gradient. `NodeVisit.foldedPriors` tells a
   * sweep observer which priors a node's gradients include.
   *
   * @example
   * ```ts
   * import { init, Tensor, add, backward, scale, sum, withBackwardRules, type BackwardRule } from 'transformer-lrp';
   *
   * await init();
   * // Passes 2·g, with the input's earlier gradient added in (a real rule adds it in its kernel).
   * const twice: BackwardRule = {
   *   name: 'twice',
   *   backward: (ctx, g) => {
   *     const prior = ctx.takeAccumulatedGrad?.(0) ?? null;
   *     const own = scale(g, 2);
   *     return [prior ? add(own, prior) : own];
   *   },
   * };
   * const x = Tensor.fromArray([1, 2], [2]).setRequiresGrad();
   * const y = sum(add(x, withBackwardRules({ affine: twice }, () => scale(x, 5))));
   * backward(y); // x.grad = [3, 3]: 1 from the add, folded into the rule's 2
   * ```
   */
  readonly takeAccumulatedGrad?: (input: number) => Tensor | null;
}

/** A backward of `factor`·g (see `BackwardContext.scaledBackward`). */
export type ScaledBackwardFn<A = unknown> = (ctx: BackwardContext<A>, gradOutput: Tensor, factor: number) => (Tensor | null)[];

/** Computes the gradients of an op's inputs (null where none is needed) from its output's gradient. */
export type BackwardFn<A = unknown> = (ctx: BackwardContext<A>, gradOutput: Tensor) => (Tensor | null)[];

/** One recorded op in the autodiff graph: what it consumed and produced, and the backward bound to it. */
export interface Node {
  /** Unique per process, in recording order. */
  readonly id: number;
  /** The op's registered name. */
  readonly op: string;
  /** The tensors the op consumed: graph structure (their nodes, leaves that get `grad`). */
  readonly inputs: readonly Tensor[];
  /** The op's result: graph structure. */
  readonly output: Tensor;
  /** Saved handles on the inputs' and output's data, valid even after those are disposed. */
  readonly savedInputs: readonly Tensor[];
  /** Saved handle on the output's data (see `savedInputs`). */
  readonly savedOutput: Tensor;
  /** The op's attributes, as recorded. */
  readonly attrs: unknown;
  /** The backward in force when the op was recorded (its own, or an override). */
  readonly backward: BackwardFn;
  /** The op's own backward, whatever rule is in force (rules may call it). */
  readonly defaultBackward: BackwardFn;
  /** The op's own backward with a free gradient scale, when it has one. */
  readonly scaledBackward?: ScaledBackwardFn;
  /** Name of the rule that replaced the default backward, if any (for reports). */
  readonly rule: string | undefined;
  /** Set once backward has run through the node and its saved buffers were released. */
  released: boolean;
}

/** Drops the node's hold on its saved buffers (after backward passed it, or when nothing can reach it). */
export function releaseNode(node: Node): void {
  if (node.released) return;
  node.released = true;
  for (const t of node.savedInputs) t.dispose();
  node.savedOutput.dispose();
}

let gradEnabled = true;

/** Whether ops record a graph now (false inside `noGrad`). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording a graph (inference, or computing inside a backward). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/**
 * A backward rule with a name that reports can show. `A` is the attribute type of the op it is
 * written for (`OpAttrs['layerNorm']`, …); a rule that reads no attributes (`A = unknown`) fits any op.
 */
export interface BackwardRule<A = unknown> {
  /** Shown in reports (`Node.rule`, the conservation ledger's rule table). */
  name: string;
  // Method syntax on purpose: a rule for one op's attributes still fits a table of rules for any
  // op (`BackwardRule<NormAttrs>` is a `BackwardRule`); `RuleTable` checks the attributes per op.
  /** Replaces the op's backward: returns a gradient (relevance) per input, null where none is needed. */
  backward(ctx: BackwardContext<A>, gradOutput: Tensor): (Tensor | null)[];
}

/** Op name → rule, typed by op: a misspelt name does not compile, a rule gets its op's attributes. */
export type RuleTable = { readonly [K in OpName]?: BackwardRule<OpAttrs[K]> };

/**
 * Chooses the rule for an op while it is being recorded, from its name and declared role (custom
 * ops may have none); undefined keeps the op's own backward. Called once per recorded node, so it
 * may consult other scoped state (LRP composites read the current module path).
 */
export type RuleResolver = (op: string, role: OpRole | undefined) => BackwardRule | undefined;

const ruleScopes: RuleResolver[] = [];

function tableResolver(rules: RuleTable): RuleResolver {
  const byName = rules as Readonly<Record<string, BackwardRule | undefined>>;
  return (op) => (Object.hasOwn(byName, op) ? byName[op] : undefined);
}

/**
 * Runs `fn` with the backward of ops replaced by rules: a table by op name, or a resolver. The rule
 * is bound at record time: ops executed inside `fn` keep the rule even if backward runs after the
 * scope ends. Inner scopes take precedence over outer ones.
 *
 * @example
 * ```ts
 * import { init, Tensor, backward, linear, scale, withBackwardRules, type BackwardRule } from 'transformer-lrp';
 *
 * await init();
 * // Pass half of the gradient through every `linear` recorded inside the scope.
 * const halve: BackwardRule = { name: 'halve', backward: (ctx, g) => ctx.defaultBackward(scale(g, 0.5)) };
 * const x = Tensor.fromArray([1, 2], [1, 2]).setRequiresGrad();
 * const w = Tensor.fromArray([3, 4], [1, 2]);
 * const y = withBackwardRules({ linear: halve }, () => linear(x, w, null));
 * backward(y);               // x.grad = [1.5, 2]: the rule applies although backward runs outside the scope
 * ```
 */
export function withBackwardRules<T>(rules: RuleTable | RuleResolver, fn: () => T): T {
  ruleScopes.push(typeof rules === 'function' ? rules : tableResolver(rules));
  try {
    return fn();
  } finally {
    ruleScopes.pop();
  }
}

/**
 * The rule the innermost `withBackwardRules` scope assigns to an op being recorded; undefined keeps its own backward.
 */
export function activeRule(op: string, role: OpRole | undefined): BackwardRule | undefined {
  for (let i = ruleScopes.length - 1; i >= 0; i--) {
    const rule = ruleScopes[i]!(op, role);
    if (rule) return rule;
  }
  return undefined;
}
