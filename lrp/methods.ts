/**
 * Explanation methods as data: which backward rule replaces which op's gradient, and whether
 * positional encodings are inputs (receive relevance) or constants. Relevance at the inputs is
 * then always x ⊙ (modified gradient). docs/rules.md states every rule as a formula.
 */
import type { BackwardRule } from '../autograd/graph.js';
import { detachRule, gateDetachedRule } from './rules/detach.js';
import { epsilonRule } from './rules/epsilon.js';
import { identityRule } from './rules/identity.js';
import { normScaleDetachedRule } from './rules/normScale.js';
import { proportionalSumRule } from './rules/proportionalSum.js';
import { softmaxRule } from './rules/softmax.js';
import { uniformRule } from './rules/uniform.js';
import type { MethodName } from './result.js';

export interface MethodSpec {
  name: MethodName;
  summary: string;
  /** Op name → the rule its backward follows (ops not listed keep their gradient). */
  rules: Readonly<Record<string, BackwardRule>>;
  /** PE tensors are inputs (true) or constants (false) by default. */
  positionalInputs: boolean;
}

/** Elementwise nonlinearities (op names) that pass relevance through unchanged in LRP methods. */
const ACTIVATION_OPS = ['geluErf', 'geluTanh', 'silu', 'tanh'] as const;

const activationsIdentity = Object.fromEntries(ACTIVATION_OPS.map((op) => [op, identityRule]));

export const DEFAULT_EPSILON = 1e-6;

export function methodSpec(name: MethodName, epsilon = DEFAULT_EPSILON): MethodSpec {
  const attnLrpRules: Record<string, BackwardRule> = {
    linear: epsilonRule(epsilon),
    attentionScores: uniformRule,
    attentionContext: uniformRule,
    gatedProduct: uniformRule,
    rotary: uniformRule,
    positionBias: proportionalSumRule,
    softmax: softmaxRule,
    layerNorm: normScaleDetachedRule,
    rmsNorm: normScaleDetachedRule,
    ...activationsIdentity,
  };
  switch (name) {
    case 'gi':
      return { name, summary: 'Gradient × Input', rules: {}, positionalInputs: true };
    case 'cp-lrp':
      return {
        name,
        summary: 'CP-LRP (Ali et al. 2022): attention probabilities, norm scale and MLP gate detached',
        rules: {
          softmax: detachRule('attention-detached'),
          // Stated for completeness: the detached softmax cuts the logits, so it receives ĝ = 0.
          positionBias: proportionalSumRule,
          layerNorm: normScaleDetachedRule,
          rmsNorm: normScaleDetachedRule,
          gatedProduct: gateDetachedRule,
          ...activationsIdentity,
        },
        positionalInputs: true,
      };
    case 'attnlrp':
      return {
        name,
        summary: 'AttnLRP (Achtibat et al. 2024): epsilon, uniform, softmax and identity rules; PE constant',
        rules: attnLrpRules,
        positionalInputs: false,
      };
    case 'pa-lrp':
      return {
        name,
        summary: 'PA-LRP (Bakish et al. 2025): AttnLRP with positional encodings as inputs',
        rules: attnLrpRules,
        positionalInputs: true,
      };
  }
}

export const METHOD_NAMES: readonly MethodName[] = ['gi', 'cp-lrp', 'attnlrp', 'pa-lrp'];

export function isMethodName(name: string): name is MethodName {
  return (METHOD_NAMES as readonly string[]).includes(name);
}
