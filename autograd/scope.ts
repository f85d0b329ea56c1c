/**
 * Memory scopes: `tidy(fn)` disposes every tensor created inside `fn` except those it returns
 * (or passes to `keep`). GPU memory is then released deterministically, without waiting for GC.
 *
 * Graph nodes hold their own handles on the buffers their backward reads (saved aliases), so
 * disposing tensors does not free a recorded graph. At the end of a tidy, the nodes recorded in
 * it that no surviving tensor can reach (no backward can ever run through them) release their
 * saved buffers too; reachable ones pass to the enclosing scope. Without this, a forward pass
 * with grad-requiring parameters that is never differentiated would keep every saved buffer.
 */
import { releaseNode, type Node } from './graph.js';

/** Something holding GPU memory until `dispose()`: what `tidy` tracks and `keep` exempts. */
export interface Disposable {
  /** Releases the GPU memory (idempotent). */
  dispose(): void;
  /** True once disposed. */
  readonly disposed: boolean;
}

/** What a scope needs of a tensor to find the graph it can still reach. */
interface GraphHolder extends Disposable {
  readonly node?: Node | null;
}

interface Scope {
  /** Disposed at the end unless returned or kept. */
  readonly owned: Set<Disposable>;
  /** Everything created in the scope, kept or not: the survivors among them hold graphs. */
  readonly created: GraphHolder[];
  /** Graph nodes recorded in the scope. */
  readonly nodes: Node[];
}

const scopes: Scope[] = [];

/** Called by every new tensor: the innermost open scope will dispose it. */
export function track(t: Disposable): void {
  const scope = scopes[scopes.length - 1];
  if (!scope) return;
  scope.owned.add(t);
  scope.created.push(t);
}

/** Called for every recorded graph node: the innermost scope frees it once nothing can reach it. */
export function trackNode(node: Node): void {
  scopes[scopes.length - 1]?.nodes.push(node);
}

/** Exempts `t` from the innermost scope (it survives the tidy). */
export function keep<T extends Disposable>(t: T): T {
  for (const scope of scopes) scope.owned.delete(t);
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

/**
 * Ends a scope: disposes what it owns except `kept`, hands the survivors (returned, or exempted by
 * `keep`) to the enclosing scope, and releases the graph nodes recorded in it that no survivor
 * can reach; nodes a survivor can reach pass to the enclosing scope.
 */
function close(scope: Scope, kept: Set<Disposable>): void {
  for (const t of scope.owned) if (!kept.has(t)) t.dispose();
  const survivors = scope.created.filter((t) => !t.disposed);
  const outer = scopes[scopes.length - 1];
  if (outer) {
    // Returned tensors now belong to the enclosing scope.
    for (const t of kept) if (scope.owned.has(t)) outer.owned.add(t);
    outer.created.push(...survivors);
  }
  if (scope.nodes.length === 0) return;
  const reachable = new Set<Node>();
  const stack: Node[] = [];
  for (const t of survivors) if (t.node) stack.push(t.node);
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (reachable.has(node)) continue;
    reachable.add(node);
    for (const input of node.inputs) if (input.node && !reachable.has(input.node)) stack.push(input.node);
  }
  for (const node of scope.nodes) {
    if (node.released) continue;
    if (reachable.has(node)) outer?.nodes.push(node);
    else releaseNode(node);
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it except those in its result (found in
 * nested arrays and objects) or passed to `keep`. Graph nodes nothing can reach any more release
 * their saved buffers too. A promise result is refused: a tidy cannot span an `await`.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = { owned: new Set(), created: [], nodes: [] };
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    close(scope, new Set());
    throw error;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error('tidy: the function must be synchronous (await outside tidy)');
  const kept = new Set<Disposable>();
  collect(result, kept);
  close(scope, kept);
  return result;
}
