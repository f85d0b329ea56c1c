/**
 * Composites: rules chosen per module path, as zennit's name-map and layer-map composites do.
 * `composite(base, entries)` returns a MethodSpec; `ruleResolver(spec)` is what explain() binds
 * while the model records: for each op it reads the current module path (nn/modulePath.ts) and
 * picks the rule — first a matching module entry, then the method's rule by op name, then by role.
 */
import type { BackwardRule, RuleResolver } from '../autograd/graph.js';
import type { OpRole } from '../autograd/opTypes.js';
import { currentModulePath } from '../nn/modulePath.js';
import { InputError } from '../kernels/errors.js';
import { isMethodName, methodSpec, type MethodSpec, type ModuleMatch, type ModuleRules, type RoleRules } from './methods.js';
import type { MethodName } from './result.js';

const ESCAPE = /[.+^$()|[\]\\?]/g;

/** Splits a glob at the dots that separate segments (not the `..` of a `{0..3}` range). */
function segments(glob: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of glob) {
    if (c === '{') depth++;
    if (c === '}') depth--;
    if (c === '.' && depth === 0) {
      out.push(current);
      current = '';
    } else current += c;
  }
  if (depth !== 0) throw new InputError(`module pattern "${glob}": unbalanced braces`);
  out.push(current);
  return out;
}

function segmentPattern(seg: string, glob: string): string {
  let out = '';
  for (let i = 0; i < seg.length; ) {
    const c = seg[i]!;
    if (c === '*') {
      out += '[^.]*';
      i++;
    } else if (c === '{') {
      const end = seg.indexOf('}', i);
      const body = seg.slice(i + 1, end);
      const range = /^(\d+)\.\.(\d+)$/.exec(body);
      if (range) {
        const [lo, hi] = [Number(range[1]), Number(range[2])];
        if (hi < lo) throw new InputError(`module pattern "${glob}": empty range {${body}}`);
        out += `(?:${Array.from({ length: hi - lo + 1 }, (_, k) => lo + k).join('|')})`;
      } else {
        out += `(?:${body.split(',').map((s) => s.replace(ESCAPE, '\\$&')).join('|')})`;
      }
      i = end + 1;
    } else {
      out += c.replace(ESCAPE, '\\$&');
      i++;
    }
  }
  return out;
}

/**
 * A module path glob as a RegExp over whole paths: `*` one segment (or part of one), `**` any
 * number of segments (also none), `{0..3}` an integer range, `{a,b}` alternatives.
 */
export function globToRegExp(glob: string): RegExp {
  // Every segment is matched with its leading dot, against '.' + path.
  const body = segments(glob)
    .map((seg) => (seg === '**' ? '(?:\\.[^.]+)*' : `\\.${segmentPattern(seg, glob)}`))
    .join('');
  return new RegExp(`^${body}$`);
}

/** The path and each of its ancestors: `layers.3.mlp` → `layers.3.mlp`, `layers.3`, `layers`. */
function withAncestors(path: string): string[] {
  const parts = path.split('.');
  return parts.map((_, k) => parts.slice(0, parts.length - k).join('.'));
}

/** A predicate over module paths: true when the path or one of its ancestors matches. */
export function modulePredicate(match: ModuleMatch): (path: string) => boolean {
  if (typeof match === 'function') return match;
  const re = typeof match === 'string' ? globToRegExp(match) : match;
  // Globs are anchored against '.' + path; a user RegExp sees the path itself.
  const test = typeof match === 'string' ? (p: string) => re.test(`.${p}`) : (p: string) => {
    re.lastIndex = 0;
    return re.test(p);
  };
  return (path) => path !== '' && withAncestors(path).some(test);
}

/** A predicate for blocks `from`..`to` (inclusive) and everything inside them: zennit's layer map. */
export function layerRange(from: number, to: number): (path: string) => boolean {
  return (path) => {
    const m = /^layers\.(\d+)(?:\.|$)/.exec(path);
    return m !== null && Number(m[1]) >= from && Number(m[1]) <= to;
  };
}

function pick(ops: ModuleRules['ops'], roles: RoleRules | undefined, op: string, role: OpRole | undefined): BackwardRule | undefined {
  const byName = ops as Readonly<Record<string, BackwardRule | undefined>> | undefined;
  if (byName && Object.hasOwn(byName, op) && byName[op]) return byName[op];
  return role ? (roles?.[role] as BackwardRule | undefined) : undefined;
}

/** The resolver explain() binds for `spec` while the model records its graph. */
export function ruleResolver(spec: MethodSpec): RuleResolver {
  const entries = (spec.modules ?? []).map((e) => ({ test: modulePredicate(e.match), entry: e }));
  return (op, role) => {
    if (entries.length > 0) {
      const path = currentModulePath();
      for (const { test, entry } of entries) {
        if (!test(path)) continue;
        const rule = pick(entry.ops, entry.roles, op, role);
        if (rule) return rule;
      }
    }
    return pick(spec.ops, spec.roles, op, role);
  };
}

/** Options of `composite`. */
export interface CompositeOptions {
  /** Name of the resulting method (default: `<base>+composite`). */
  name?: string;
  /** One line for reports (default: the base's). */
  summary?: string;
  /** Override the base's positional default. */
  positionalInputs?: boolean;
}

/**
 * A method that follows `base` except inside the matching modules, e.g. γ on linear layers of
 * blocks 0–3 and ε above: `composite('attnlrp', [{ match: 'layers.{0..3}', roles: { linear: gammaRule(0.25) } }])`.
 * Entries are tried in order (the first with a rule for the op wins), before the base's own entries.
 */
export function composite(base: MethodSpec | MethodName, entries: readonly ModuleRules[], options: CompositeOptions = {}): MethodSpec {
  if (typeof base === 'string' && !isMethodName(base)) throw new InputError(`composite: unknown method "${String(base)}"`);
  const spec = typeof base === 'string' ? methodSpec(base) : base;
  return {
    ...spec,
    name: options.name ?? `${spec.name}+composite`,
    summary: options.summary ?? spec.summary,
    modules: [...entries, ...(spec.modules ?? [])],
    positionalInputs: options.positionalInputs ?? spec.positionalInputs,
  };
}
