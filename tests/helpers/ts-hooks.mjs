// Module hooks that let a child `node` process run the TypeScript sources directly (tests that
// need separate processes, e.g. sharded CLI runs): `.js` specifiers resolve to the `.ts` file
// beside them, and `.ts` files are transpiled (no type check) with the project's TypeScript.
// Transpiled files are cached by content hash in the temp folder: transpiling is most of a
// child's start-up, and parallel children then share one transpilation.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CACHE = join(tmpdir(), 'lrp-ts-hooks-cache-v1');
let typescript;

export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.js') && (specifier.startsWith('.') || specifier.startsWith('file:')) && context.parentURL?.startsWith('file:')) {
    const url = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (existsSync(fileURLToPath(url))) return { url: url.href, shortCircuit: true, format: 'module' };
  }
  return next(specifier, context);
}

async function transpile(source, fileName) {
  const cached = join(CACHE, `${createHash('sha256').update(source).digest('hex')}.js`);
  if (existsSync(cached)) return readFileSync(cached, 'utf8');
  const ts = (typescript ??= (await import('typescript')).default);
  const { outputText } = ts.transpileModule(source, {
    fileName,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: true, sourceMap: false },
  });
  mkdirSync(CACHE, { recursive: true });
  const temp = `${cached}.${process.pid}.tmp`;
  writeFileSync(temp, outputText);
  renameSync(temp, cached);
  return outputText;
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const path = fileURLToPath(url);
  return { format: 'module', source: await transpile(readFileSync(path, 'utf8'), path), shortCircuit: true };
}
