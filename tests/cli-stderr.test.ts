/**
 * Dawn's two native start-up notices are filtered from the `lrp` command's stderr; every other
 * line, partial progress lines included, passes through unchanged and without delay.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DawnWarningFilter } from '../lrp/cli/dawnWarnings.js';
import { modelDir } from './helpers/fixtures.js';

const UNIFORM = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';
const STORAGE = 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';

function filtered(chunks: string[]): { passed: string[]; all: string } {
  const filter = new DawnWarningFilter();
  const passed = chunks.map((c) => filter.push(c));
  return { passed, all: passed.join('') + filter.flush() };
}

describe('DawnWarningFilter', () => {
  it("drops exactly Dawn's two notices, also when they arrive split across chunks", () => {
    const text = `before\n${UNIFORM}${STORAGE}after\n`;
    expect(filtered([text]).all).toBe('before\nafter\n');
    const bytes = [...text];
    expect(filtered(bytes).all).toBe('before\nafter\n');
    expect(filtered([text.slice(0, 30), text.slice(30, 100), text.slice(100)]).all).toBe('before\nafter\n');
  });

  it('keeps other warnings, real errors and lines that only start like the notice', () => {
    const other = 'Warning: maxDynamicUniformBuffersPerPipelineLayout is something else\nlrp: bad input\n';
    expect(filtered([other]).all).toBe(other);
    expect(filtered([`x ${UNIFORM}`]).all).toBe(`x ${UNIFORM}`);
  });

  it('passes a partial progress line on at once, and holds back only a possible notice', () => {
    const { passed } = filtered(['\rloading 40%', '\rloading 80%', 'Warning: maxDyn']);
    expect(passed).toEqual(['\rloading 40%', '\rloading 80%', '']);
    expect(filtered(['Warning: maxDyn']).all).toBe('Warning: maxDyn');
  });
});

describe('the lrp command', () => {
  const cli = resolve(import.meta.dirname, '..', 'dist', 'lrp', 'cli', 'main.js');

  it("prints no Dawn notice on stderr, keeps the exit code, and LRP_DAWN_WARNINGS=1 shows them", () => {
    if (!existsSync(cli)) throw new Error('dist/ is missing: run `npm run build` (scripts/setup.sh does)');
    const args = [cli, 'forward', '--model', modelDir('gpt2'), '--ids', '1,2,3'];
    const quiet = spawnSync(process.execPath, args, { encoding: 'utf8' });
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(JSON.parse(quiet.stdout)).toHaveProperty('logits');

    const loud = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, LRP_DAWN_WARNINGS: '1' } });
    expect(loud.status).toBe(0);
    expect(loud.stderr).toContain('artificially reduced');

    const bad = spawnSync(process.execPath, [cli, 'explain', '--model', join(modelDir('gpt2'), 'missing'), '--ids', '1', '--method', 'gi'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^lrp: /);
  });
});
