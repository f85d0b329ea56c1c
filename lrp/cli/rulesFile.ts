/**
 * `--rules FILE`: a method description from a JSON file, or from a JS module's default export
 * (.js/.mjs; there rules may be BackwardRule objects and `match` a RegExp or function). Every
 * mistake is a UsageError (exit code 2) that names the file.
 */
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MethodDescriptionError, parseMethodDescription, unmatchedPatterns } from '../methodDescription.js';
import type { MethodSpec } from '../methods.js';
import { UsageError } from './args.js';

export async function loadRulesFile(file: string, fallbackBase: string | undefined): Promise<MethodSpec> {
  const ext = extname(file).toLowerCase();
  let desc: unknown;
  if (ext === '.js' || ext === '.mjs') {
    try {
      const mod = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown };
      desc = mod.default;
    } catch (error) {
      throw new UsageError(`--rules ${file}: cannot load the module (${(error as Error).message})`);
    }
    if (desc === undefined) throw new UsageError(`--rules ${file}: the module has no default export`);
  } else {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new UsageError(`--rules ${file}: cannot read (${(error as Error).message})`);
    }
    try {
      desc = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`--rules ${file}: not valid JSON (${(error as Error).message})`);
    }
  }
  try {
    return parseMethodDescription(desc, fallbackBase);
  } catch (error) {
    if (error instanceof MethodDescriptionError) throw new UsageError(`--rules ${file}: ${error.message}`);
    throw error;
  }
}

/** A module pattern that matches nothing in this model is almost always a typo: say so. */
export function checkPatterns(spec: MethodSpec, file: string, paths: readonly string[]): void {
  const unmatched = unmatchedPatterns(spec, paths);
  if (unmatched.length > 0) {
    const sample = paths.filter((p) => p.startsWith('layers.0')).slice(0, 5);
    throw new UsageError(`--rules ${file}: "${unmatched[0]}" matches no module of this model (its paths look like ${sample.join(', ')})`);
  }
}
