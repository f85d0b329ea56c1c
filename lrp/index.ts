/** LRP: methods as data, explain(), the conservation report and renderers. */
export { explain, type ExplainOptions } from './explain.js';
export { methodSpec, METHOD_NAMES, isMethodName, DEFAULT_EPSILON, type MethodSpec } from './methods.js';
export { buildReport, type TappedRelevance } from './conservation.js';
export { epsilonRule } from './rules/epsilon.js';
export { uniformRule } from './rules/uniform.js';
export { identityRule } from './rules/identity.js';
export { detachRule, gateDetachedRule } from './rules/detach.js';
export { normScaleDetachedRule } from './rules/normScale.js';
export { softmaxRule } from './rules/softmax.js';
export * from './render/index.js';
export type * from './result.js';
export { evaluateExplanations, readHeldout, formatScores, sampleExamples, EVAL_METHODS, type EvalMethod, type MethodScores, type HeldoutExample, type EvaluateOptions } from './evaluate.js';
