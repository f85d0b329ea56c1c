import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../lrp/cli/args.js';
import { exitCodeFor, main } from '../lrp/cli/run.js';
import { ComputationError, InputError } from '../kernels/errors.js';
import { NoAdapterError } from '../kernels/runtime.js';
import { runCli } from './helpers/cli.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';
import { expectClose } from './helpers/close.js';
import { modelDir, readReference } from './helpers/fixtures.js';

beforeAll(async () => {
  await gpu();
});

const run = runCli;

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
    // targetText: the fixture tokenizer knows the argmax id (contrast* keys only with --contrast).
    expect(Object.keys(e)).toEqual(['method', 'target', ...('targetText' in e ? ['targetText'] : []), 'logit', 'tokens', 'conservation', 'layers']);
    expect(e['method']).toBe('pa-lrp');
    const tokens = e['tokens'] as Record<string, unknown>[];
    expect(tokens).toHaveLength(6);
    // Text input: each token's characters in the text (start, end).
    for (const t of tokens) expect(Object.keys(t)).toEqual(['index', 'id', 'text', 'token', 'position', 'total', 'start', 'end']);
    expect(tokens[1]!['text']).toBe('cat');
    expect([tokens[1]!['start'], tokens[1]!['end']]).toEqual([4, 7]);
    expect(Object.keys(e['conservation'] as object)).toEqual(['input', 'output', 'bias', 'relativeError', 'ledger']);
    const ledger = (e['conservation'] as { ledger: Record<string, unknown> }).ledger;
    expect(Object.keys(ledger)).toEqual(['tokens', 'positions', 'biases', 'stabilizers', 'softmax', 'constantPositional', 'otherOps', 'unexplained', 'remainder']);
    for (const s of ledger['softmax'] as Record<string, unknown>[]) expect(Object.keys(s)).toEqual(['name', 'lost']);
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
    // --ids: plain decimal non-negative integers only (these were accepted as 16, 10, 2, 5, 7).
    ['hexadecimal id', ['explain', '--model', gpt2, '--ids', '1,0x10', '--method', 'gi'], /--ids: "0x10" is not a non-negative integer/],
    ['exponent id', ['explain', '--model', gpt2, '--ids', '1e1', '--method', 'gi'], /--ids: "1e1" is not a non-negative integer/],
    ['fractional id', ['explain', '--model', gpt2, '--ids', '2.0', '--method', 'gi'], /--ids: "2\.0" is not a non-negative integer/],
    ['signed id', ['explain', '--model', gpt2, '--ids', '+5', '--method', 'gi'], /--ids: "\+5" is not a non-negative integer/],
    ['negative id', ['explain', '--model', gpt2, '--ids=-1', '--method', 'gi'], /--ids: "-1" is not a non-negative integer/],
    ['id with a space', ['explain', '--model', gpt2, '--ids', '1, 7', '--method', 'gi'], /--ids: " 7" is not a non-negative integer/],
    ['empty id', ['explain', '--model', gpt2, '--ids', '1,,2', '--method', 'gi'], /--ids: expected comma-separated integers, got "1,,2"/],
    ['trailing comma', ['explain', '--model', gpt2, '--ids', '1,2,', '--method', 'gi'], /--ids: expected comma-separated integers/],
    ['empty ids', ['explain', '--model', gpt2, '--ids', '', '--method', 'gi'], /--ids: expected comma-separated integers/],
    ['huge id', ['explain', '--model', gpt2, '--ids', '99999999999999999999', '--method', 'gi'], /not a non-negative integer/],
    // Not digits: a token string, and "0x1" is not one token of the fixture's vocabulary.
    ['hexadecimal target', ['explain', '--model', gpt2, '--ids', '1', '--method', 'gi', '--target', '0x1'], /target "0x1" does not encode to exactly one known token; give a vocabulary id/],
    ['empty target', ['explain', '--model', gpt2, '--ids', '1', '--method', 'gi', '--target', ''], /--target: the value is empty/],
    ['contrast = target', ['explain', '--model', gpt2, '--ids', '1', '--method', 'gi', '--target', '3', '--contrast', '3'], /contrast 3 is the target itself/],
    ['contrast out of range', ['explain', '--model', gpt2, '--ids', '1', '--method', 'gi', '--contrast', '500'], /contrast 500 is out of range/],
    ['text target without a tokenizer', ['explain', '--model', modelDir('gpt2-nobias'), '--ids', '1', '--method', 'gi', '--target', 'cat'], /the model has no tokenizer/],
    ['hexadecimal tolerance', ['explain', '--model', gpt2, '--ids', '1', '--method', 'gi', '--assert-conservation', '0x1'], /--assert-conservation: "0x1" is not a number/],
    ['tolerance with a space', ['explain', '--model', gpt2, '--ids', '1', '--method', 'gi', '--assert-conservation', ' 1'], /--assert-conservation: " 1" is not a number/],
    ['repeated flag', ['explain', '--model', gpt2, '--ids', '1', '--ids', '2', '--method', 'gi'], /--ids is given 2 times; give it once/],
    ['missing value', ['explain', '--model', gpt2, '--ids', '--method', 'gi'], /Option '--ids' argument is ambiguous/],
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

it('an empty --out is bad input, not stdout', async () => {
  const { code, stdout, stderr } = await run('explain', '--model', gpt2, '--ids', '1', '--method', 'gi', '--out=');
  expect(code).toBe(2);
  expect(stdout).toBe('');
  expect(stderr).toMatch(/^lrp: --out: the file name is empty/);
});

describe('exit codes say whose fault a failure is', () => {
  const ids = ['explain', '--model', gpt2, '--ids', '4,34,20', '--method', 'gi'];

  /** main() with a stdout that throws a plain Error: a failure of no known kind, i.e. our bug. */
  async function runWithBrokenStdout(): Promise<{ code: number; stderr: string }> {
    let stderr = '';
    const code = await main(ids, {
      stdout: {
        write: () => {
          throw new Error('stdout exploded');
        },
      },
      stderr: { write: (s: string) => (stderr += s) },
    });
    return { code, stderr };
  }

  function withDebug<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
    const saved = process.env['LRP_DEBUG'];
    if (value === undefined) delete process.env['LRP_DEBUG'];
    else process.env['LRP_DEBUG'] = value;
    return fn().finally(() => {
      if (saved === undefined) delete process.env['LRP_DEBUG'];
      else process.env['LRP_DEBUG'] = saved;
    });
  }

  it('an internal error exits with 3, says so, and hides the stack unless LRP_DEBUG=1', async () => {
    const quiet = await withDebug(undefined, runWithBrokenStdout);
    expect(quiet.code).toBe(3);
    expect(quiet.stderr).toBe('lrp: internal error: stdout exploded\nlrp: this is a bug in lrp; LRP_DEBUG=1 prints the stack\n');
    const debug = await withDebug('1', runWithBrokenStdout);
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(/^lrp: internal error: stdout exploded\nError: stdout exploded\n\s+at /);
  });

  it('maps each kind of error to its code', () => {
    expect(exitCodeFor(new InputError('x'))).toBe(2);
    expect(exitCodeFor(new UsageError('x'))).toBe(2);
    expect(exitCodeFor(new ComputationError('x'))).toBe(1);
    expect(exitCodeFor(new NoAdapterError('x'))).toBe(1);
    expect(exitCodeFor(new Error('WebGPU reported an error: x'))).toBe(1);
    expect(exitCodeFor(new TypeError('x is not a function'))).toBe(3);
    expect(exitCodeFor(new Error('anything else'))).toBe(3);
    expect(exitCodeFor('a thrown string')).toBe(3);
  });

  it('a malformed LRP_DEBUG is bad input (exit 2)', async () => {
    const { code, stdout, stderr } = await withDebug('yes', () => run(...ids));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('lrp: LRP_DEBUG="yes" must be 0 or 1\n');
  });

  it('success is 0 and writes nothing on stderr', async () => {
    const { code, stderr } = await run(...ids);
    expect(code).toBe(0);
    expect(stderr).toBe('');
  });
});
