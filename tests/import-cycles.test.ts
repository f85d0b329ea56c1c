/**
 * No runtime import cycle among the library's modules. A cycle makes the result depend on which
 * module is loaded first (an `export const` read before its module ran is undefined), so each
 * runtime import must point one way. Type-only imports (`import type`, `export type`) are erased
 * and are not edges; `import { type A }` is an edge (verbatimModuleSyntax keeps it as a side-effect
 * import).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const LIBRARY = ['index.ts', 'node.ts', 'kernels', 'autograd', 'nn', 'lrp'];

function sourceFiles(path: string): string[] {
  if (statSync(path).isFile()) return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  return readdirSync(path).flatMap((name) => sourceFiles(join(path, name)));
}

/** The relative modules `file` loads when it runs, as absolute .ts paths. */
export function runtimeImports(file: string, text = readFileSync(file, 'utf8')): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false);
  const targets: string[] = [];
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined;
    if (ts.isImportDeclaration(statement)) {
      if (statement.importClause?.isTypeOnly) continue;
      specifier = statement.moduleSpecifier;
    } else if (ts.isExportDeclaration(statement)) {
      if (statement.isTypeOnly) continue;
      specifier = statement.moduleSpecifier;
    }
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
    targets.push(resolve(dirname(file), specifier.text.replace(/\.js$/, '.ts')));
  }
  return targets;
}

/** Every cycle found by a depth-first walk, each as the list of files around it. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      const s = state.get(next);
      if (s === 'open') cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (s === undefined) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return cycles;
}

describe('import graph', () => {
  it('finds a cycle when there is one (the check itself works)', () => {
    const a = resolve(root, 'a.ts');
    const b = resolve(root, 'b.ts');
    expect(runtimeImports(a, "import { x } from './b.js';\nimport type { Y } from './c.js';")).toEqual([b]);
    expect(runtimeImports(a, "export type { Y } from './c.js';\nexport * from './b.js';")).toEqual([b]);
    expect(findCycles(new Map([[a, [b]], [b, [a]]]))).toHaveLength(1);
    expect(findCycles(new Map([[a, [b]], [b, []]]))).toHaveLength(0);
  });

  it('has no runtime import cycle among the library modules', () => {
    const files = LIBRARY.flatMap((p) => sourceFiles(resolve(root, p)));
    const graph = new Map(files.map((f) => [f, runtimeImports(f)]));
    const cycles = findCycles(graph).map((c) => c.map((f) => relative(root, f)).join(' → '));
    expect(cycles).toEqual([]);
  });
});
