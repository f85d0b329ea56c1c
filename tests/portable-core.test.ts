/**
 * The portable core stays portable: what the core entry points (index.ts and the layer indexes)
 * reach compiles with DOM + @webgpu/types and no Node types (tsconfig.core.json), and imports no
 * package but the ones that run in browsers. A module that imports `node:*`, Dawn's `webgpu`, or
 * uses `process` or `Buffer` must fail here; the Node-only modules are reached through node.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const CORE_ENTRIES = ['index.ts', 'kernels/index.ts', 'autograd/index.ts', 'nn/index.ts', 'lrp/index.ts'];
/** Packages the core may import: they run in browsers as they are. */
const PORTABLE_PACKAGES = new Set(['@huggingface/tokenizers']);

/** Runs tsc on `project`; returns its diagnostics ('' when it compiles). */
function typecheck(project: string): string {
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, encoding: 'utf8' });
    return '';
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
}

/** Every module specifier a file imports or re-exports at run time (type-only ones are erased). */
function specifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, false);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) out.push(node.moduleSpecifier.text);
    else if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) out.push(node.moduleSpecifier.text);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      out.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** The library files the core entries reach at run time, and the packages they import. */
function coreGraph(): { files: string[]; packages: Map<string, string> } {
  const seen = new Set<string>();
  const packages = new Map<string, string>();
  const stack = CORE_ENTRIES.map((f) => resolve(root, f));
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of specifiers(file)) {
      if (spec.startsWith('.')) stack.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.set(spec, relative(root, file));
    }
  }
  return { files: [...seen].map((f) => relative(root, f)).sort(), packages };
}

describe('the portable core', () => {
  it('compiles with DOM + @webgpu/types and without Node types (tsconfig.core.json)', () => {
    expect(typecheck('tsconfig.core.json')).toBe('');
  });

  it('the check fails for a core module that uses Node: node:fs, process, Buffer', () => {
    // A small project on the same settings, so that this takes seconds, not a full check.
    const dir = mkdtempSync(join(root, '.portable-check-'));
    try {
      writeFileSync(
        join(dir, 'leaky.ts'),
        "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\nexport const b = process.env['X'];\nexport const c = Buffer.from('x');\n",
      );
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.core.json', files: ['leaky.ts'] }));
      const output = typecheck(relative(root, join(dir, 'tsconfig.json')));
      expect(output).toMatch(/Cannot find module 'node:fs'/);
      expect(output).toMatch(/Cannot find name 'process'/);
      expect(output).toMatch(/Cannot find name 'Buffer'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reaches no Node-only module and imports only portable packages', () => {
    const { files, packages } = coreGraph();
    expect(files).toContain('kernels/runtime.ts');
    expect(files).toContain('nn/load.ts');
    for (const nodeOnly of ['kernels/dawn.ts', 'kernels/env.ts', 'nn/folder.ts', 'nn/folderSource.ts', 'nn/files.ts', 'nn/hub-cache.ts', 'nn/image.ts']) {
      expect(files, `${nodeOnly} is Node-only`).not.toContain(nodeOnly);
    }
    expect(files.filter((f) => f.startsWith('lrp/cli/') || f.startsWith('lrp/eval/'))).toEqual([]);
    const foreign = [...packages].filter(([name]) => !PORTABLE_PACKAGES.has(name)).map(([name, file]) => `${name} (${file})`);
    expect(foreign).toEqual([]);
  });
});
