/**
 * Memory scopes: `tidy(fn)` disposes every tensor created inside `fn` except those it returns
 * (or passes to `keep`). GPU memory is then released deterministically, without waiting for GC.
 */

export interface Disposable {
  dispose(): void;
  readonly disposed: boolean;
}

const scopes: Set<Disposable>[] = [];

/** Called by every new tensor: the innermost open scope will dispose it. */
export function track(t: Disposable): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Exempts `t` from the innermost scope (it survives the tidy). */
export function keep<T extends Disposable>(t: T): T {
  for (const scope of scopes) scope.delete(t);
  return t;
}

/** Things a tidy result may contain: the tensors found in it are kept. */
type Returned = unknown;

function collect(value: Returned, out: Set<Disposable>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ('dispose' in value && 'disposed' in value) {
    out.add(value as Disposable);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const item of items) collect(item, out, seen);
}

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw error;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error('tidy: the function must be synchronous (await outside tidy)');
  const kept = new Set<Disposable>();
  collect(result, kept);
  for (const t of scope) if (!kept.has(t)) t.dispose();
  // Returned tensors now belong to the enclosing scope, if any.
  for (const t of kept) if (scope.has(t)) track(t);
  return result;
}
