/**
 * `npm run bench:compare` needs Python with PyTorch, which CI does not have: without it the
 * script must refuse with exit code 2 and say what to install, before writing anything. Bad
 * options are refused the same way.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { findPython, options, UsageError } from '../scripts/bench-compare.js';

describe('bench:compare', () => {
  it('refuses clearly, with exit code 2, when the Python it is given has no PyTorch', () => {
    const r = spawnSync(process.execPath, ['--import', resolve('tests/helpers/ts-register.mjs'), resolve('scripts/bench-compare.ts'), '--python', '/nonexistent/python3'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/needs Python 3 with PyTorch and NumPy \(tried \/nonexistent\/python3\)/);
    expect(r.stderr).toMatch(/libopenblas0-pthread/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.stdout).toBe('');
  });

  it('finds no PyTorch in a Python without it', () => {
    expect(() => findPython('/nonexistent/python3')).toThrow(UsageError);
  });

  it('reads its options, and refuses unknown ones and methods it does not compare', () => {
    expect(options([])).toMatchObject({ tokens: 128, methods: ['gi', 'cp-lrp', 'pa-lrp'], repeat: 3, rounds: 1, threads: 2, layers: null, config: null });
    expect(options(['--rounds', '3'])).toMatchObject({ rounds: 3 });
    expect(() => options(['--rounds', '0'])).toThrow(/--rounds expects an integer >= 1, got 0/);
    expect(options(['--config', 'Qwen2.5-0.5B', '--methods', 'pa-lrp', '--layers', '2'])).toMatchObject({ config: 'Qwen2.5-0.5B', methods: ['pa-lrp'], layers: 2 });
    expect(() => options(['--frobnicate'])).toThrow(/frobnicate/);
    expect(() => options(['--methods', 'attnlrp'])).toThrow(/--methods takes gi, cp-lrp, pa-lrp, got attnlrp/);
    expect(() => options(['--config', 'GPT-5'])).toThrow(/--config takes one of SmolLM2-135M, Qwen2.5-0.5B/);
    expect(() => options(['--tokens', '0'])).toThrow(/--tokens expects an integer >= 1, got 0/);
  });
});
