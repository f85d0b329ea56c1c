import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../lrp/cli/run.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';
import { expectClose } from './helpers/close.js';
import { modelDir, readReference } from './helpers/fixtures.js';

beforeAll(async () => {
  await gpu();
});

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
  });
  return { code, stdout, stderr };
}

const gpt2 = modelDir('gpt2');

describe('lrp forward', () => {
  it('prints the last position logits as JSON', async () => {
    const ref = readReference('gpt2');
    const { code, stdout } = await run('forward', '--model', gpt2, '--ids', ref.input_ids![0]!.join(','), '--format', 'json');
    expect(code).toBe(0);
    const parsed = JSON.parse(stdout) as { logits: number[] };
    expect(Object.keys(parsed)).toEqual(['logits']);
    expectClose(parsed.logits, ref.logits_last!, { rtol: 1e-4, atol: 1e-4 });
  });

  it('prints class logits for a classifier', async () => {
    const ref = readReference('bert');
    const { code, stdout } = await run('forward', '--model', modelDir('bert'), '--ids', ref.input_ids![0]!.join(','));
    expect(code).toBe(0);
    expectClose((JSON.parse(stdout) as { logits: number[] }).logits, ref.logits as number[], { rtol: 1e-4, atol: 1e-4 });
  });
});

describe('lrp explain', () => {
  it('writes the JSON contract exactly', async () => {
    const { code, stdout } = await run('explain', '--model', gpt2, '--text', 'the cat sat on the mat', '--method', 'pa-lrp', '--format', 'json');
    expect(code).toBe(0);
    const e = JSON.parse(stdout) as Record<string, unknown>;
    expect(Object.keys(e)).toEqual(['method', 'target', 'logit', 'tokens', 'conservation', 'layers']);
    expect(e['method']).toBe('pa-lrp');
    const tokens = e['tokens'] as Record<string, unknown>[];
    expect(tokens).toHaveLength(6);
    for (const t of tokens) expect(Object.keys(t)).toEqual(['index', 'id', 'text', 'token', 'position', 'total']);
    expect(tokens[1]!['text']).toBe('cat');
    expect(Object.keys(e['conservation'] as object)).toEqual(['input', 'output', 'bias', 'relativeError']);
    for (const l of e['layers'] as Record<string, unknown>[]) expect(Object.keys(l)).toEqual(['name', 'in', 'out']);
  });

  it('explains the requested target', async () => {
    const { stdout } = await run('explain', '--model', gpt2, '--ids', '4,34,20', '--method', 'gi', '--target', '7');
    expect((JSON.parse(stdout) as { target: number }).target).toBe(7);
  });

  for (const format of ['ansi', 'html', 'svg'] as const) {
    it(`renders ${format} to --out`, async () => {
      const dir = tempDir('lrp-cli-');
      const out = join(dir, `e.${format}`);
      const { code } = await run('explain', '--model', gpt2, '--ids', '4,34,20', '--method', 'attnlrp', '--format', format, '--out', out);
      expect(code).toBe(0);
      const text = readFileSync(out, 'utf8');
      expect(text.length).toBeGreaterThan(100);
      if (format === 'html') expect(text).toContain('class="token"');
      if (format === 'svg') expect(text).toContain('<svg');
      expect(readdirSync(dir)).toEqual([`e.${format}`]);
    });
  }

  it('--assert-conservation fails when the error exceeds the tolerance', async () => {
    // AttnLRP is not conservative (softmax rule): a zero tolerance must fail, a loose one pass.
    const strict = await run('explain', '--model', gpt2, '--ids', '4,34,20,22', '--method', 'attnlrp', '--assert-conservation', '0');
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/exceeds --assert-conservation 0/);
    const loose = await run('explain', '--model', gpt2, '--ids', '4,34,20,22', '--method', 'cp-lrp', '--assert-conservation', '1e-3');
    expect(loose.code).toBe(0);
  });
});

describe('bad input exits with 2 and writes nothing', () => {
  const cases: [string, string[], RegExp][] = [
    ['id out of vocabulary', ['explain', '--model', gpt2, '--ids', '1,2,96', '--method', 'gi'], /id 96 at position 2 is outside the vocabulary \(size 96\)/],
    ['empty input', ['explain', '--model', gpt2, '--text', '  ', '--method', 'gi'], /empty/],
    ['target out of range', ['explain', '--model', gpt2, '--ids', '1,2', '--method', 'gi', '--target', '500'], /target 500 is out of range/],
    ['sequence too long', ['explain', '--model', gpt2, '--ids', Array.from({ length: 33 }, () => '1').join(','), '--method', 'gi'], /more than max_position_embeddings \(32\)/],
    ['unknown method', ['explain', '--model', gpt2, '--ids', '1,2', '--method', 'shap'], /unknown method "shap"/],
    ['malformed ids', ['explain', '--model', gpt2, '--ids', '1,x', '--method', 'gi'], /"x" is not a non-negative integer/],
    ['missing model', ['explain', '--model', '/nonexistent/model', '--ids', '1', '--method', 'gi'], /config\.json/],
    ['unknown flag', ['explain', '--model', gpt2, '--ids', '1', '--method', 'gi', '--colour'], /colour/],
  ];
  for (const [label, argv, message] of cases) {
    it(label, async () => {
      const dir = tempDir('lrp-bad-');
      const out = join(dir, 'out.json');
      const { code, stdout, stderr } = await run(...argv, '--out', out);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
      expect(stdout).toBe('');
      expect(existsSync(out)).toBe(false);
    });
  }
});
