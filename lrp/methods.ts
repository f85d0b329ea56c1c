/**
 * Explanation methods as data: which backward rule replaces the gradient of which ops — by the
 * role each op declares (linear, activation, norm, …), by op name, and per module path
 * (composites, lrp/composites.ts) — and whether positional encodings are inputs (receive
 * relevance) or constants. Relevance at the inputs is then always x ⊙ (modified gradient).
 * docs/rules.md states every rule as a formula.
 */
import type { BackwardRule, RuleTable } from '../autograd/graph.js';
import type { OpRole, RoleAttrs } from '../autograd/opTypes.js';
import { detachRule, gateDetachedRule } from './rules/detach.js';
import { DEFAULT_EPSILON, epsilonRule } from './rules/epsilon.js';
import { signedGammaRule } from './rules/gamma.js';
import { identityRule } from './rules/identity.js';
import { normScaleDetachedRule } from './rules/normScale.js';
import { proportionalSumRule } from './rules/proportionalSum.js';
import { softmaxRule } from './rules/softmax.js';
import { uniformRule } from './rules/uniform.js';
import type { MethodName } from './result.js';

/** Role → the rule every op of that role follows (unless a rule by op name or module overrides it). */
export type RoleRules = { readonly [R in OpRole]?: BackwardRule<RoleAttrs[R]> };

/** Which modules a composite entry covers: a module path glob, a RegExp, or a predicate. */
export type ModuleMatch = string | RegExp | ((path: string) => boolean);

/**
 * Rules for the ops recorded inside matching modules (a path matches when it, or one of its
 * ancestors, matches: `layers.3` covers `layers.3.mlp.down_proj`). Globs: `*` is one path segment,
 * `**` any number, `{0..3}` an integer range, `{attn,mlp}` alternatives.
 */
export interface ModuleRules {
  /** The modules covered (and everything inside them). */
  match: ModuleMatch;
  /** Rules by op role inside those modules. */
  roles?: RoleRules;
  /** Rules by op name inside those modules; they take precedence over `roles`. */
  ops?: RuleTable;
}

/**
 * An explanation method as data: which backward rule each op gets (by role, by name, per module),
 * and whether positional tensors are inputs.
 */
export interface MethodSpec {
  /** Shown in reports and as `Explanation.method`. */
  name: string;
  /** One line for reports and `--help`. */
  summary?: string;
  /** Rules by op role (every registered op declares one). */
  roles?: RoleRules;
  /** Rules by op name; they take precedence over `roles`. */
  ops?: RuleTable;
  /**
   * Per-module rules (a composite): for an op recorded at module path p, the first entry that
   * matches p and has a rule for the op (by name, then by role) wins; otherwise `ops`, then `roles`.
   */
  modules?: readonly ModuleRules[];
  /** PE tensors are inputs (true) or constants (false) by default. */
  positionalInputs: boolean;
}

export { DEFAULT_EPSILON };

/** AttnLRP's rules by role (Achtibat et al. 2024), with the ε of the ε-rule. */
export function attnLrpRoles(epsilon = DEFAULT_EPSILON): RoleRules {
  return {
    linear: epsilonRule(epsilon),
    product: uniformRule,
    positional: uniformRule,
    softmax: softmaxRule,
    norm: normScaleDetachedRule,
    activation: identityRule,
  };
}

/**
 * AttnLRP with the sign-aware γ-rule on every linear layer of the graph, the way LXT's vision
 * examples pair AttnLRP with zennit's γ (docs/rules.md). Relevance stops at the patch embeddings,
 * so the patch projection itself is not part of the graph.
 */
export function attnLrpGamma(gamma = 0.25, epsilon = DEFAULT_EPSILON): MethodSpec {
  return {
    name: `attnlrp-gamma(${gamma})`,
    summary: 'AttnLRP with the sign-aware γ-rule on linear layers (vision models)',
    roles: { ...attnLrpRoles(epsilon), linear: signedGammaRule(gamma, epsilon) },
    positionalInputs: false,
  };
}

/** The MethodSpec of a built-in method (`epsilon` for the LRP methods' ε-rule). */
export function methodSpec(name: MethodName, epsilon = DEFAULT_EPSILON): MethodSpec {
  switch (name) {
    case 'gi':
      return { name, summary: 'Gradient × Input', positionalInputs: true };
    case 'cp-lrp':
      return {
        name,
        summary: 'CP-LRP (Ali et al. 2022): attention probabilities, norm scale and MLP gate detached',
        roles: { softmax: detachRule('attention-detached'), norm: normScaleDetachedRule, activation: identityRule },
        // positionBias (ALiBi) stated for completeness: the detached softmax cuts the logits, so it receives ĝ = 0.
        ops: { gatedProduct: gateDetachedRule, positionBias: proportionalSumRule },
        positionalInputs: true,
      };
    case 'attnlrp':
      return {
        name,
        summary: 'AttnLRP (Achtibat et al. 2024): epsilon, uniform, softmax and identity rules; PE constant',
        roles: attnLrpRoles(epsilon),
        ops: { positionBias: proportionalSumRule },
        positionalInputs: false,
      };
    case 'pa-lrp':
      return {
        name,
        summary: 'PA-LRP (Bakish et al. 2025): AttnLRP with positional encodings as inputs',
        roles: attnLrpRoles(epsilon),
        ops: { positionBias: proportionalSumRule },
        positionalInputs: true,
      };
  }
}

/** The built-in methods' names. */
export const METHOD_NAMES: readonly MethodName[] = ['gi', 'cp-lrp', 'attnlrp', 'pa-lrp'];

/** Whether a string names a built-in method. */
export function isMethodName(name: string): name is MethodName {
  return (METHOD_NAMES as readonly string[]).includes(name);
}
