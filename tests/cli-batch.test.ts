/**
 * `lrp explain --input IN.jsonl --out OUT.jsonl`: one process, one record per input line with its
 * provenance, bad lines reported by number while the others go on (exit 2 at the end).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';

beforeAll(async () => {
  await gpu();
});

const model = 'models/sentiment';

function batch(lines: string[]): { input: string; out: string } {
  const dir = tempDir('lrp-batch-');
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, `${lines.join('\n')}\n`);
  return { input, out: join(dir, 'out.jsonl') };
}

function records(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('lrp explain --input (batch)', () => {
  it('explains every line as a single call would, with provenance', async () => {
    const { input, out } = batch([
      JSON.stringify({ text: 'the plot was not good' }),
      '',
      JSON.stringify({ text: 'a good film', target: 'negative' }),
    ]);
    const r = await runCli('explain', '--model', model, '--input', input, '--out', out, '--method', 'cp-lrp');
    expect(r.code, r.stderr).toBe(0);
    const rs = records(out);
    expect(rs.map((x) => x['line'])).toEqual([1, 3]);
    for (const x of rs) {
      const p = x['provenance'] as Record<string, unknown>;
      expect(p['package']).toMatch(/^transformer-lrp \d+\.\d+\.\d+$/);
      expect(p['model']).toBe(model);
      expect(p['modelSha256']).toMatch(/^[0-9a-f]{64}$/);
      expect(p['method']).toBe('cp-lrp');
    }
    expect((rs[1]!['provenance'] as Record<string, unknown>)['targetText']).toBe('negative');
    // Record 1 equals a single explanation of the same input.
    const single = JSON.parse((await runCli('explain', '--model', model, '--text', 'the plot was not good', '--method', 'cp-lrp')).stdout) as Record<string, unknown>;
    expect(rs[0]!['tokens']).toEqual(single['tokens']);
    expect(rs[0]!['conservation']).toEqual(single['conservation']);
    expect(rs[0]!['details']).toBeUndefined();
    const withDetails = await runCli('explain', '--model', model, '--input', input, '--out', out, '--method', 'pa-lrp', '--details');
    expect(withDetails.code).toBe(0);
    expect(records(out)[0]!['details']).toHaveProperty('rules');
  });

  it('reports a bad line by number, explains the rest, writes an error record and exits 2', async () => {
    const { input, out } = batch([
      JSON.stringify({ ids: [1, 2, 3] }),
      '{"text": "unclosed',
      JSON.stringify({ ids: [1, 999999] }),
      JSON.stringify({ text: 'good', target: 'no-such-label' }),
      JSON.stringify({ text: 'not good' }),
    ]);
    const r = await runCli('explain', '--model', model, '--input', input, '--out', out, '--method', 'gi');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`in\\.jsonl:2: not valid JSON`));
    expect(r.stderr).toMatch(/in\.jsonl:3: .*outside the vocabulary/);
    expect(r.stderr).toMatch(/in\.jsonl:4: .*no-such-label/);
    const rs = records(out);
    expect(rs.map((x) => x['line'])).toEqual([1, 2, 3, 4, 5]);
    expect(rs.map((x) => 'error' in x)).toEqual([false, true, true, true, false]);
  });

  it('refuses bad batch options with exit 2 and writes nothing', async () => {
    const { input, out } = batch([JSON.stringify({ text: 'good' })]);
    const empty = batch(['', '  ']);
    const cases: string[][] = [
      ['--input', input, '--method', 'gi'],
      ['--input', input, '--out', out, '--method', 'gi', '--format', 'svg'],
      ['--input', input, '--out', out, '--method', 'gi,cp-lrp'],
      ['--input', input, '--ids', '1', '--out', out, '--method', 'gi'],
      ['--text', 'good', '--method', 'gi', '--details'],
      ['--input', empty.input, '--out', empty.out, '--method', 'gi'],
    ];
    for (const extra of cases) {
      const r = await runCli('explain', '--model', model, ...extra);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^lrp: /);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(out)).toBe(false);
    expect(existsSync(empty.out)).toBe(false);
  });
});
