/**
 * The module path of the code running now: `layers.3.mlp.down_proj` while that Linear's forward
 * runs, `layers.3` in the residual additions of block 3, '' outside any module. Modules push their
 * path around their forward (`Module.scoped`); explanation methods read it while ops are recorded,
 * to choose rules per layer (composites) without the engine knowing about modules.
 */
const stack: string[] = [];

/** Runs `fn` with `path` as the current module path (nested calls stack). */
export function withModulePath<T>(path: string, fn: () => T): T {
  stack.push(path);
  try {
    return fn();
  } finally {
    stack.pop();
  }
}

/** The innermost module path, or '' outside every module. */
export function currentModulePath(): string {
  return stack[stack.length - 1] ?? '';
}
