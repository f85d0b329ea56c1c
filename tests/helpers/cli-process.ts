/**
 * Runs the real `lrp` process for what only a process shows (a closed stdout pipe, /dev/stdout,
 * bash's `>(…)`, environment variables read at start-up). The sources are transpiled (no type
 * check: `tsc --noEmit` does that) into a temporary directory once per test file, so the test
 * never depends on a stale dist/.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { tempDir } from './tempdir.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCES = ['index.ts', 'kernels', 'autograd', 'nn', 'lrp'];

function* tsFiles(path: string): Generator<string> {
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path)) yield* tsFiles(join(path, entry));
  } else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) {
    yield path;
  }
}

let built: string | null = null;

/** The path of a runnable `lrp` entry point (lrp/cli/main.js), built on first use. */
export function buildCli(): string {
  if (built) return built;
  const out = tempDir('lrp-cli-build-');
  writeFileSync(join(out, 'package.json'), '{"type": "module"}\n');
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'));
  for (const source of SOURCES) {
    for (const file of tsFiles(join(ROOT, source))) {
      const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
        fileName: file,
      });
      const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, outputText);
    }
  }
  built = join(out, 'lrp', 'cli', 'main.js');
  return built;
}

/** Runs a shell command line with `$LRP` set to `node <built main.js>`. */
export function runShell(script: string, env: Record<string, string> = {}, timeoutMs = 60_000): SpawnSyncReturns<string> {
  return spawnSync('bash', ['-c', script], {
    encoding: 'utf8',
    env: { ...process.env, ...env, LRP: `${process.execPath} ${buildCli()}` },
    timeout: timeoutMs,
  });
}

/**
 * stderr without Dawn's own start-up notes on lavapipe ("Warning: max… artificially reduced"),
 * which the native library prints before any of our code runs.
 */
export function ownStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => !/^Warning: \w+ artificially reduced /.test(line))
    .join('\n');
}
