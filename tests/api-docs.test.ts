/**
 * The API reference stays complete: `npm run docs:check` (typedoc with its validation, warnings as
 * errors, nothing written) fails when an exported symbol has no documentation, a type an export
 * uses is not exported, a `{@link}` is broken, or a declaration's file is in no category.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

describe('the API reference', () => {
  it('documents every export, with valid links, in a category (npm run docs:check passes)', async () => {
    let output: string;
    let code = 0;
    try {
      const result = await promisify(execFile)('npm', ['run', '--silent', 'docs:check'], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      output = result.stdout + result.stderr;
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      code = failed.code ?? -1;
      output = `${failed.stdout ?? ''}${failed.stderr ?? ''}`;
    }
    // Each warning on its own line, so a failure lists exactly what to document.
    const problems = output.split('\n').filter((line) => /\[(warning|error)\]/.test(line));
    expect({ code, problems }).toEqual({ code: 0, problems: [] });
    expect(output).toContain('Loaded plugin');
  });
});
