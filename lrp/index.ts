/// <reference types="@webgpu/types" preserve="true" />
/**
 * LRP: methods as data, explain(), the conservation report and renderers.
 *
 * @module transformer-lrp/lrp
 */
export { explain, type ExplainOptions, type ExplainInput, type TextInput } from './explain.js';
export { type TargetSpec } from './target.js';
export { explainGeneration, generateGreedy, type GenerationOptions, type GreedyOptions, type GenerationExplanation, type SequenceToken } from './generate.js';
export { topPredictions, type Prediction } from './predictions.js';
export { methodSpec, attnLrpRoles, attnLrpGamma, METHOD_NAMES, isMethodName, DEFAULT_EPSILON, type MethodSpec, type RoleRules, type ModuleRules, type ModuleMatch } from './methods.js';
export { composite, layerRange, globToRegExp, modulePredicate, ruleResolver, type CompositeOptions } from './composites.js';
export { parseMethodDescription, unmatchedPatterns, MethodDescriptionError, RULE_NAMES } from './methodDescription.js';
export { checkRule, type RuleCase, type RuleReport, type HarnessInput, type LrpFormArgs } from './harness.js';
export { relevancePerPosition } from './positions.js';
export { buildReport, type TappedRelevance, type ReportInput } from './conservation.js';
export type { RuleLosses } from './ledger.js';
export { epsilonRule } from './rules/epsilon.js';
export { gammaRule, signedGammaRule, type LinearRule } from './rules/gamma.js';
export { alphaBetaRule, zPlusRule } from './rules/alphaBeta.js';
export { gradientRule } from './rules/gradient.js';
export { uniformRule } from './rules/uniform.js';
export { identityRule } from './rules/identity.js';
export { detachRule, gateDetachedRule } from './rules/detach.js';
export { normScaleDetachedRule } from './rules/normScale.js';
export { softmaxRule } from './rules/softmax.js';
export * from './render/index.js';
export type * from './result.js';
export { evaluateExplanations, parseHeldout, formatScores, sampleExamples, EVAL_METHODS, type EvalMethod, type MethodScores, type HeldoutExample, type EvaluateOptions } from './evaluate.js';
