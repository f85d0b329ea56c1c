/**
 * `lrp eval-perturbation` and `lrp eval-merge` end to end on the tiny GPT-2 fixture: the protocol
 * on a model whose answer depends on one known token, resume = uninterrupted run, three shard
 * processes merged = one run, and bad input (exit 2, nothing written).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExampleResult } from '../lrp/eval/protocol.js';
import type { Summary } from '../lrp/eval/summary.js';
import { modelDir } from './helpers/fixtures.js';
import { runCli } from './helpers/cli.js';
import { gpu } from './helpers/gpu.js';
import { safetensorsBytes, type TensorToWrite } from './helpers/safetensors.js';
import { tempDir } from './helpers/tempdir.js';

beforeAll(async () => {
  await gpu();
});

const run = runCli;

const gpt2 = modelDir('gpt2');
const root = tempDir('lrp-eval-');
const readJsonl = (path: string): ExampleResult[] => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ExampleResult);
const readSummary = (dir: string): Summary => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;

function writeData(name: string, lines: object[]): string {
  const path = join(root, name);
  writeFileSync(path, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return path;
}

/** Reads an F32 safetensors file (the fixtures are F32). */
function readF32Safetensors(path: string): TensorToWrite[] {
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  return Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, t]) => {
      const start = 8 + headerLength + t.data_offsets[0];
      const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + 8 + headerLength + t.data_offsets[1]));
      return { name, shape: t.shape, data };
    });
}

/**
 * The GPT-2 fixture with every attention and MLP output projection zeroed: the residual stream
 * at the last position is its own token and position embedding, so the prediction depends on the
 * last token alone, and every other token has no path to the output (relevance exactly 0).
 */
let lastTokenDir: string | undefined;
function lastTokenModel(): string {
  const dir = join(root, 'last-token-gpt2');
  mkdirSync(dir);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(gpt2, f), join(dir, f));
  const tensors = readF32Safetensors(join(gpt2, 'model.safetensors')).map((t) => (/\.(attn|mlp)\.c_proj\./.test(t.name) ? { ...t, data: new Float32Array(t.data.length) } : t));
  writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(tensors));
  return dir;
}

describe('the protocol on a model whose answer depends on one known token', () => {
  for (const replace of ['unk', 'zero-embedding']) {
    it(`MoRF collapses at the first step, LeRF only at the last (--replace ${replace})`, async () => {
      const model = (lastTokenDir ??= lastTokenModel());
      const data = writeData(`last-token-${replace}.jsonl`, [{ ids: [4, 34, 20, 22, 7] }, { ids: [9, 41, 3, 15, 27] }]);
      const out = join(root, `last-token-${replace}`);
      const { code, stderr } = await run('eval-perturbation', '--model', model, '--data', data, '--method', 'gi', '--steps', '5', '--replace', replace, '--out', out);
      expect(stderr).not.toMatch(/lrp:/);
      expect(code).toBe(0);
      const results = readJsonl(join(out, 'results.jsonl'));
      expect(results).toHaveLength(2);
      for (const r of results) {
        expect(r.correct).toBe(true);
        const { morf, lerf, generate } = r.methods!.gi!.curves;
        const p0 = morf.probability[0]!;
        // Step k removes k of the 5 tokens. MoRF removes the last token first: the probability
        // drops at step 1 and stays where it dropped; LeRF keeps it until step 5.
        expect(morf.probability[1]!).toBeLessThan(0.5 * p0);
        for (let k = 2; k <= 5; k++) expect(morf.probability[k]!).toBeCloseTo(morf.probability[1]!, 5);
        for (let k = 1; k <= 4; k++) expect(lerf.probability[k]!).toBeCloseTo(p0, 5);
        expect(lerf.probability[5]!).toBeCloseTo(morf.probability[1]!, 5);
        // Generate inserts the last token first: full probability from step 1 on.
        expect(generate.probability[0]!).toBeCloseTo(morf.probability[5]!, 5);
        expect(generate.probability[1]!).toBeCloseTo(p0, 5);
        expect(r.methods!.gi!.areas.gap).toBeGreaterThan(0);
        expect(morf.mse[0]).toBe(0);
      }
    });
  }
});

// Example 1's label is made wrong on purpose (skipped as misclassified); example 4 starts with a special token.
const examples = [{ ids: [4, 34, 20, 22, 7] }, { ids: [5, 6, 7, 8, 9, 10], label: 1 }, { text: 'the cat sat on the mat' }, { ids: [11, 12, 13, 14] }, { ids: [0, 30, 31, 2, 40] }];
const common = ['--method', 'gi', '--steps', '4'];
let single = '';
let data = '';

describe('resume', () => {
  it('stopping after K examples and resuming gives the uninterrupted run exactly', async () => {
    data = writeData('five.jsonl', examples);
    single = join(root, 'single');
    expect((await run('eval-perturbation', '--model', gpt2, '--data', data, ...common, '--out', single)).code).toBe(0);
    const full = readJsonl(join(single, 'results.jsonl'));
    expect(full.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
    expect(full[1]!.skipped).toBe('misclassified');
    // Id 0 is GPT-2's <|endoftext|>, a special token: never perturbed.
    expect([full[4]!.tokens, full[4]!.perturbable]).toEqual([5, 4]);

    const resumed = join(root, 'resumed');
    expect((await run('eval-perturbation', '--model', gpt2, '--data', data, ...common, '--out', resumed, '--max-examples', '2')).code).toBe(0);
    expect(readJsonl(join(resumed, 'results.jsonl'))).toHaveLength(2);
    expect(readSummary(resumed).complete).toBe(false);
    // A kill in the middle of a write leaves a partial last line: it must be dropped, not kept.
    appendFileSync(join(resumed, 'results.jsonl'), '{"index": 2, "line": 3, "tok');
    const again = await run('eval-perturbation', '--model', gpt2, '--data', data, ...common, '--out', resumed);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds a run: pass --resume/);
    const other = await run('eval-perturbation', '--model', gpt2, '--data', data, ...common, '--seed', '1', '--out', resumed, '--resume');
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/other settings \(seed 0 vs 1\)/);
    expect((await run('eval-perturbation', '--model', gpt2, '--data', data, ...common, '--out', resumed, '--resume')).code).toBe(0);

    expect(readJsonl(join(resumed, 'results.jsonl'))).toEqual(full);
    expect(readFileSync(join(resumed, 'summary.json'), 'utf8')).toBe(readFileSync(join(single, 'summary.json'), 'utf8'));
    expect(readSummary(single).complete).toBe(true);
  });
});

describe('batching', () => {
  it('one forward per copy and batched forwards give the same curves', async () => {
    const path = writeData('batching.jsonl', [{ ids: [4, 34, 20, 22, 7, 8, 19] }]);
    const curves = async (batch: string) => {
      const out = join(root, `batch-${batch}`);
      expect((await run('eval-perturbation', '--model', gpt2, '--data', path, '--method', 'gi', '--steps', '4', '--batch-size', batch, '--out', out)).code).toBe(0);
      return readJsonl(join(out, 'results.jsonl'))[0]!.methods!;
    };
    const one = await curves('1');
    const many = await curves('64');
    for (const method of ['gi', 'random'] as const) {
      for (const protocol of ['generate', 'pruning', 'morf', 'lerf'] as const) {
        for (const metric of ['probability', 'logit'] as const) {
          const a = one[method]!.curves[protocol][metric];
          const b = many[method]!.curves[protocol][metric];
          a.forEach((v, k) => expect(b[k]!).toBeCloseTo(v, 4));
        }
      }
    }
  });
});

function runProcess(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SLURM_|JOB_COMPLETION_INDEX)/.test(k)));
  const child = spawn(process.execPath, ['--import', resolve('tests/helpers/ts-register.mjs'), resolve('lrp/cli/main.ts'), ...args], { env: { ...base, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((done) => child.on('close', (code) => done({ code, stderr })));
}

describe('shards', () => {
  it('three shard processes (flag, Slurm, Kubernetes) merge to the single run; other settings are refused', async () => {
    expect(single).not.toBe(''); // the resume test made the single run
    const sharded = join(root, 'sharded');
    const args = ['eval-perturbation', '--model', gpt2, '--data', data, ...common, '--out', sharded];
    // One child first fills the transpile cache the three shard processes then share.
    expect((await runProcess(['eval-perturbation', '--help'], {})).code).toBe(0);
    const runs = await Promise.all([
      runProcess([...args, '--shard', '0/3'], {}),
      runProcess(args, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '3' }),
      runProcess([...args, '--shard-count', '3'], { JOB_COMPLETION_INDEX: '2' }),
    ]);
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const shards = [0, 1, 2].map((k) => join(sharded, `shard-${k}-of-3`));
    expect(readJsonl(join(shards[1]!, 'results.jsonl')).map((r) => r.index)).toEqual([1, 4]);

    const merged = await run('eval-merge', ...shards);
    expect(merged.code, merged.stderr).toBe(0);
    const a = readSummary(sharded);
    const b = readSummary(single);
    expect(a.shards).toEqual([0, 1, 2].map((index) => ({ index, count: 3 })));
    expect({ ...a, shards: null }).toEqual({ ...b, shards: null });
    expect(readFileSync(join(sharded, 'table.md'), 'utf8')).toBe(readFileSync(join(single, 'table.md'), 'utf8'));

    // A shard run with another seed, or on another model, must not be merged.
    for (const [edit, message] of [
      [(s: { settings: { seed: number } }) => (s.settings.seed = 5), /other settings .*seed 0 vs 5/],
      [(s: { settings: { model: { sha256: string } } }) => (s.settings.model.sha256 = 'f'.repeat(64)), /model checksum/],
    ] as const) {
      const odd = join(root, `odd-${Math.random().toString(36).slice(2)}`, 'shard-1-of-3');
      cpSync(shards[1]!, odd, { recursive: true });
      const settings = JSON.parse(readFileSync(join(odd, 'settings.json'), 'utf8'));
      edit(settings);
      writeFileSync(join(odd, 'settings.json'), JSON.stringify(settings));
      const out = join(root, `merge-refused-${Math.random().toString(36).slice(2)}`);
      const refused = await run('eval-merge', shards[0]!, odd, shards[2]!, '--out', out);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
    const missing = await run('eval-merge', shards[0]!, shards[2]!, '--out', join(root, 'merge-missing'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/shard\(s\) 1 of 3 are missing/);
  });
});

describe('bad input: exit 2, nothing written', () => {
  const cases: [string, string, RegExp][] = [
    ['malformed line', '{"ids": [4, 5]}\n{"ids": [4, 5]\n', /bad\.jsonl:2: not valid JSON/],
    ['empty file', '', /holds no examples/],
    ['id out of the vocabulary', '{"ids": [4]}\n\n{"ids": [4, 500]}\n', /bad\.jsonl:3: id 500 at position 1 is outside the vocabulary \(size 96\)/],
  ];
  for (const [name, text, message] of cases) {
    it(name, async () => {
      const dir = tempDir('lrp-eval-bad-');
      const path = join(dir, 'bad.jsonl');
      writeFileSync(path, text);
      const out = join(dir, 'out');
      const { code, stderr } = await run('eval-perturbation', '--model', gpt2, '--data', path, '--out', out);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    });
  }

  it('a replacement the model has no token for, and an unknown method', async () => {
    const dir = tempDir('lrp-eval-bad-');
    const path = join(dir, 'ok.jsonl');
    writeFileSync(path, '{"ids": [4, 5]}\n');
    const mask = await run('eval-perturbation', '--model', gpt2, '--data', path, '--replace', 'mask', '--out', join(dir, 'out'));
    expect(mask.code).toBe(2);
    expect(mask.stderr).toMatch(/names no mask token/);
    const method = await run('eval-perturbation', '--model', gpt2, '--data', path, '--method', 'lime', '--out', join(dir, 'out'));
    expect(method.code).toBe(2);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });
});
