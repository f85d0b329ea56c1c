/** `lrp --version` and `lrp COMMAND --help`: exit 0, the text on stdout, nothing on stderr. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const version = (JSON.parse(readFileSync(resolve(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

describe('lrp --version and --help', () => {
  it('prints the package version', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await runCli(flag);
      expect(r).toEqual({ code: 0, stdout: `lrp ${version}\n`, stderr: '' });
    }
  });

  for (const command of ['forward', 'explain', 'train', 'eval', 'eval-perturbation', 'eval-merge', 'serve']) {
    it(`lrp ${command} --help prints its usage`, async () => {
      const r = await runCli(command, '--help');
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^usage/i);
      expect(r.stdout).toContain(`lrp ${command}`);
    });
  }

  it('a help flag after other options still prints the usage, not an error', async () => {
    const r = await runCli('explain', '--model', 'nowhere', '-h');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('lrp explain');
  });
});
