/**
 * Methods described as data (a JSON file, or a JS module's default export) for the CLI's
 * `--rules FILE`: a base method, rules by role and by op name, and per-module entries. A rule is
 * named with its parameters (`{ "rule": "gamma", "gamma": 0.25 }`, or just `"identity"`); from JS
 * it may also be a BackwardRule object and `match` a RegExp or predicate.
 *
 * {
 *   "name": "gamma-low", "base": "attnlrp",
 *   "modules": [
 *     { "match": "layers.{0..3}", "roles": { "linear": { "rule": "gamma", "gamma": 0.25 } } },
 *     { "match": "layers.*", "roles": { "linear": { "rule": "epsilon", "epsilon": 0.01 } } }
 *   ]
 * }
 */
// Every op registered, so op names can be checked before a model is loaded.
import '../autograd/index.js';
import type { BackwardRule, RuleTable } from '../autograd/graph.js';
import { opRole, registeredOps } from '../autograd/op.js';
import { isOpRole, OP_ROLES } from '../autograd/opTypes.js';
import { modulePredicate } from './composites.js';
import { isMethodName, methodSpec, METHOD_NAMES, type MethodSpec, type ModuleMatch, type ModuleRules, type RoleRules } from './methods.js';
import { alphaBetaRule, zPlusRule } from './rules/alphaBeta.js';
import { detachRule, gateDetachedRule } from './rules/detach.js';
import { DEFAULT_EPSILON, epsilonRule } from './rules/epsilon.js';
import { gammaRule, signedGammaRule } from './rules/gamma.js';
import { gradientRule } from './rules/gradient.js';
import { identityRule } from './rules/identity.js';
import { normScaleDetachedRule } from './rules/normScale.js';
import { softmaxRule } from './rules/softmax.js';
import { uniformRule } from './rules/uniform.js';

/** A mistake in a method description; the message says where. */
export class MethodDescriptionError extends Error {
  /** Shown before the message (`MethodDescriptionError: …`) instead of the inherited `Error`. */
  override name = 'MethodDescriptionError';
}

type Params = Record<string, unknown>;

/** Rule name → its parameters (with defaults) and how to build it. */
const RULES: Record<string, { params: Record<string, number | undefined>; make: (p: Record<string, number>) => BackwardRule }> = {
  epsilon: { params: { epsilon: DEFAULT_EPSILON }, make: (p) => epsilonRule(p['epsilon']!) },
  gamma: { params: { gamma: 0.25, epsilon: DEFAULT_EPSILON }, make: (p) => gammaRule(p['gamma']!, p['epsilon']!) as BackwardRule },
  'signed-gamma': { params: { gamma: 0.25, epsilon: DEFAULT_EPSILON }, make: (p) => signedGammaRule(p['gamma']!, p['epsilon']!) as BackwardRule },
  'alpha-beta': { params: { alpha: 2, beta: 1, epsilon: DEFAULT_EPSILON }, make: (p) => alphaBetaRule(p['alpha']!, p['beta']!, p['epsilon']!) as BackwardRule },
  'z-plus': { params: { epsilon: DEFAULT_EPSILON }, make: (p) => zPlusRule(p['epsilon']!) as BackwardRule },
  uniform: { params: {}, make: () => uniformRule },
  identity: { params: {}, make: () => identityRule },
  softmax: { params: {}, make: () => softmaxRule },
  gradient: { params: {}, make: () => gradientRule },
  detach: { params: {}, make: () => detachRule('detached') },
  'norm-scale-detached': { params: {}, make: () => normScaleDetachedRule as BackwardRule },
  'gate-detached': { params: {}, make: () => gateDetachedRule },
};

/** Names of the rules a description may use. */
export const RULE_NAMES: readonly string[] = Object.keys(RULES);

/** Levenshtein distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

const isObject = (v: unknown): v is Params => typeof v === 'object' && v !== null && !Array.isArray(v);

function ruleOf(value: unknown, where: string): BackwardRule {
  if (isObject(value) && typeof value['backward'] === 'function' && typeof value['name'] === 'string') return value as unknown as BackwardRule;
  const name = typeof value === 'string' ? value : isObject(value) ? value['rule'] : undefined;
  if (typeof name !== 'string') throw new MethodDescriptionError(`${where}: a rule is a name or { "rule": name, …parameters }`);
  const entry = RULES[name];
  if (!entry) throw new MethodDescriptionError(`${where}: unknown rule "${name}" (choose one of ${RULE_NAMES.join(', ')})`);
  const given = isObject(value) ? value : {};
  const params: Record<string, number> = {};
  for (const key of Object.keys(given)) {
    if (key !== 'rule' && !(key in entry.params)) {
      const known = Object.keys(entry.params);
      throw new MethodDescriptionError(`${where}: rule "${name}" has no parameter "${key}"${known.length ? ` (it takes ${known.join(', ')})` : ''}`);
    }
  }
  for (const [key, fallback] of Object.entries(entry.params)) {
    const v = given[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new MethodDescriptionError(`${where}: "${key}" of rule "${name}" must be a finite number`);
    params[key] = v;
  }
  try {
    return entry.make(params);
  } catch (error) {
    throw new MethodDescriptionError(`${where}: ${(error as Error).message}`);
  }
}

function rolesOf(value: unknown, where: string): RoleRules {
  if (!isObject(value)) throw new MethodDescriptionError(`${where}: expected an object { role: rule }`);
  const out: Record<string, BackwardRule> = {};
  for (const [role, rule] of Object.entries(value)) {
    if (!isOpRole(role)) throw new MethodDescriptionError(`${where}: unknown role "${role}" (roles: ${OP_ROLES.join(', ')})`);
    out[role] = ruleOf(rule, `${where}.${role}`);
  }
  return out as RoleRules;
}

function opsOf(value: unknown, where: string): RuleTable {
  if (!isObject(value)) throw new MethodDescriptionError(`${where}: expected an object { opName: rule }`);
  const out: Record<string, BackwardRule> = {};
  for (const [op, rule] of Object.entries(value)) {
    if (opRole(op) === undefined) {
      const near = registeredOps().filter((o) => editDistance(o.toLowerCase(), op.toLowerCase()) <= 2).slice(0, 5);
      throw new MethodDescriptionError(`${where}: unknown op "${op}"${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}`);
    }
    out[op] = ruleOf(rule, `${where}.${op}`);
  }
  return out as RuleTable;
}

function matchOf(value: unknown, where: string): ModuleMatch {
  if (typeof value === 'function') return value as (path: string) => boolean;
  if (value instanceof RegExp) return value;
  if (typeof value !== 'string' || value === '') throw new MethodDescriptionError(`${where}: "match" must be a module path pattern such as "layers.{0..3}"`);
  try {
    modulePredicate(value);
  } catch (error) {
    throw new MethodDescriptionError(`${where}: ${(error as Error).message}`);
  }
  return value;
}

/**
 * A MethodSpec from a description; `fallbackBase` is used when it names no base (the CLI passes
 * `--method`). Every op name, role, rule and parameter is checked.
 */
export function parseMethodDescription(desc: unknown, fallbackBase?: string): MethodSpec {
  if (!isObject(desc)) throw new MethodDescriptionError('the method description must be an object');
  const allowed = new Set(['name', 'summary', 'base', 'positionalInputs', 'epsilon', 'roles', 'ops', 'modules']);
  for (const key of Object.keys(desc)) if (!allowed.has(key)) throw new MethodDescriptionError(`unknown key "${key}" (allowed: ${[...allowed].join(', ')})`);
  const base = desc['base'] ?? fallbackBase ?? 'gi';
  if (typeof base !== 'string' || !isMethodName(base)) throw new MethodDescriptionError(`"base" must be one of ${METHOD_NAMES.join(', ')}`);
  const epsilon = desc['epsilon'] ?? DEFAULT_EPSILON;
  if (typeof epsilon !== 'number' || !(epsilon >= 0)) throw new MethodDescriptionError('"epsilon" must be a number >= 0');
  const spec = methodSpec(base, epsilon);
  const name = desc['name'] ?? `${base}+rules`;
  if (typeof name !== 'string' || name === '') throw new MethodDescriptionError('"name" must be a non-empty string');
  const positional = desc['positionalInputs'] ?? spec.positionalInputs;
  if (typeof positional !== 'boolean') throw new MethodDescriptionError('"positionalInputs" must be true or false');
  const modulesRaw = desc['modules'] ?? [];
  if (!Array.isArray(modulesRaw)) throw new MethodDescriptionError('"modules" must be an array of { match, roles?, ops? }');
  const modules: ModuleRules[] = modulesRaw.map((entry: unknown, i) => {
    const where = `modules[${i}]`;
    if (!isObject(entry)) throw new MethodDescriptionError(`${where}: expected { match, roles?, ops? }`);
    for (const key of Object.keys(entry)) if (!['match', 'roles', 'ops'].includes(key)) throw new MethodDescriptionError(`${where}: unknown key "${key}"`);
    const m: ModuleRules = { match: matchOf(entry['match'], where) };
    if (entry['roles'] !== undefined) m.roles = rolesOf(entry['roles'], `${where}.roles`);
    if (entry['ops'] !== undefined) m.ops = opsOf(entry['ops'], `${where}.ops`);
    return m;
  });
  return {
    name,
    summary: typeof desc['summary'] === 'string' ? desc['summary'] : `${base} with rules from a description`,
    roles: desc['roles'] === undefined ? spec.roles : { ...spec.roles, ...rolesOf(desc['roles'], 'roles') },
    ops: desc['ops'] === undefined ? spec.ops : { ...spec.ops, ...opsOf(desc['ops'], 'ops') },
    modules,
    positionalInputs: positional,
  };
}

/** String patterns among `spec.modules` that match none of `paths` (likely typos). */
export function unmatchedPatterns(spec: MethodSpec, paths: readonly string[]): string[] {
  return (spec.modules ?? [])
    .map((m) => m.match)
    .filter((m): m is string => typeof m === 'string')
    .filter((m) => !paths.some(modulePredicate(m)));
}
