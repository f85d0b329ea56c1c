/**
 * Every `@example` in the library's doc comments compiles against the public API and runs as
 * written: each ```ts block is taken from the comment, its `'transformer-lrp'` imports pointed at
 * this checkout's node.ts (what `import 'transformer-lrp'` gives in Node), type-checked with the
 * project's compiler options, then run; a block that says `// not run:` (it needs a server or a
 * browser) is type-checked only.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it, vi } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const LAYERS = ['kernels', 'autograd', 'nn', 'lrp'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

interface DocExample {
  /** Where the example is: `autograd/graph.ts:101`. */
  where: string;
  code: string;
}

/** The ```ts blocks of every `@example` tag, with the ` * ` comment prefix removed. */
function docExamples(): DocExample[] {
  const examples: DocExample[] = [];
  for (const file of [join(root, 'index.ts'), ...LAYERS.flatMap((layer) => sourceFiles(join(root, layer)))]) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/@example\n\s*\* ```ts\n([\s\S]*?)\n\s*\* ```/g)) {
      const line = text.slice(0, match.index).split('\n').length;
      const code = match[1]!
        .split('\n')
        .map((l) => l.replace(/^\s*\* ?/, ''))
        .join('\n');
      examples.push({ where: `${relative(root, file)}:${line}`, code });
    }
  }
  return examples;
}

const examples = docExamples();
// Inside the checkout, so that both the compiler and the test runner resolve the relative import.
const work = mkdtempSync(join(root, 'tests', '.doc-examples-'));
const files = examples.map((example, i) => {
  const path = join(work, `example-${i}.ts`);
  // `export {}` keeps each file a module even if an example had no import.
  writeFileSync(path, `${example.code.replaceAll("'transformer-lrp'", "'../../node.js'")}\nexport {};\n`);
  return path;
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the @example blocks of the doc comments', () => {
  it('include the three the API reference promises (explain, loadModel, withBackwardRules)', () => {
    const where = examples.map((e) => e.where.split(':')[0]);
    expect(where).toEqual(expect.arrayContaining(['lrp/explain.ts', 'nn/load.ts', 'autograd/graph.ts']));
  });

  it('type-check against the public API', () => {
    const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
    const program = ts.createProgram(files, { ...config.options, noEmit: true, allowImportingTsExtensions: false });
    const errors = files.flatMap((file, i) =>
      [...program.getSyntacticDiagnostics(program.getSourceFile(file)), ...program.getSemanticDiagnostics(program.getSourceFile(file))].map(
        (d) => `${examples[i]!.where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
      ),
    );
    expect(errors).toEqual([]);
  });

  const runnable = files.flatMap((file, i) => (examples[i]!.code.includes('// not run:') ? [] : [[examples[i]!.where, file] as const]));
  it.each(runnable)('%s runs as written', async (_where, file) => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import(pathToFileURL(file).href);
    } finally {
      log.mockRestore();
    }
  });
});
