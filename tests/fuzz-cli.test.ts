/**
 * Property test of the command line (issue 9): argv built from the real flags and values, valid
 * and hostile (bad numbers, unknown flags, missing values, repeated flags, odd ids, missing files),
 * run in-process against the tiny fixture models. Whatever the argv: the exit code is 0, 1 or 2
 * (never 3, an internal error), a failure says `lrp: ...` on stderr and writes nothing (no stdout,
 * --out untouched or absent, no temporary file left), a success writes its output, and every run
 * ends within a bounded time.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { METHOD_NAMES } from '../lrp/methods.js';
import { runCli } from './helpers/cli.js';
import { FIXTURES, modelDir } from './helpers/fixtures.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';

/** Generous: a run loads a tiny model and explains at most 40 tokens (well under a second when warm). */
const MAX_SECONDS_PER_RUN = 60;
const RUNS = 60;
/** fast-check's seed, printed on a failure: FUZZ_SEED=... reproduces that run. */
const SEED = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);

let work = '';
let goodImage = '';
let badImage = '';

beforeAll(async () => {
  await gpu();
  work = tempDir('lrp-fuzz-');
  const png = new PNG({ width: 30, height: 20 });
  for (let i = 0; i < png.data.length; i++) png.data[i] = (i * 37) % 256;
  goodImage = join(work, 'in.png');
  writeFileSync(goodImage, PNG.sync.write(png));
  badImage = join(work, 'bad.png');
  writeFileSync(badImage, 'not an image');
});

const models = (): string[] => [modelDir('gpt2'), modelDir('bert'), modelDir('llama'), modelDir('vit')];
const badModels = (): string[] => ['/nonexistent/model', join(FIXTURES, 'models'), '', modelDir('gpt2') + '/config.json'];

const from = (values: readonly string[]): fc.Arbitrary<string> => fc.constantFrom(...values);

/** `arbitrary` in `percent`% of the cases, null otherwise. */
const maybe = <T>(arbitrary: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: percent, arbitrary }, { weight: 100 - percent, arbitrary: fc.constant(null) });

/** Mostly valid values (so that runs reach the model), sometimes hostile ones. */
const values = (valid: readonly string[], hostile: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof({ weight: 4, arbitrary: from(valid) }, { weight: 1, arbitrary: from(hostile) });

const ids = values(['4,34,20', '1', '0', '95', '4,34,20,22,7'], ['96', Array.from({ length: 70 }, () => '3').join(','), '0x10', '1e1', '2.0', '+5', ' 7', '1,,2', '1,', '', '-1', '99999999999999999999', 'x']);
const texts = values(['the cat sat', 'ü €', 'a'], ['  ', '', '\u0000']);
const numbers = values(['0', '1', '1e-3', '0.5', '.5', '5.'], ['-1', 'NaN', 'Infinity', '0x1', ' 1', '1e999', '', 'abc']);
const targets = values(['0', '7', '1'], ['95', '500', '-1', '1.5', '0x1', '', '+3']);

/** One option as argv tokens: `--flag value`, `--flag=value`, or (rarely) the flag with its value missing. */
function option(flag: string, value: fc.Arbitrary<string>): fc.Arbitrary<string[]> {
  return fc.oneof(
    { weight: 12, arbitrary: value.map((v) => [flag, v]) },
    { weight: 2, arbitrary: value.map((v) => [`${flag}=${v}`]) },
    { weight: 1, arbitrary: fc.constant<string[]>([flag]) },
  );
}

const modelOption = fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constant('bad') }).chain((kind) =>
  kind === null ? option('--model', fc.integer({ min: 0, max: 3 }).map((i) => models()[i]!)) : option('--model', fc.integer({ min: 0, max: 3 }).map((i) => badModels()[i]!)),
);

/** Image paths are placeholders (GOOD, BAD, MISSING) until the run's files exist. */
const sourceOption = fc.oneof(
  { weight: 4, arbitrary: option('--ids', ids) },
  { weight: 2, arbitrary: option('--text', texts) },
  { weight: 2, arbitrary: option('--image', values(['GOOD'], ['BAD', 'MISSING', ''])) },
);

/** Each optional flag present or not, independently. */
const extraOptions = fc
  .tuple(
    maybe(option('--target', targets), 30),
    maybe(option('--format', values(['json', 'ansi', 'html', 'svg'], ['pdf', ''])), 40),
    maybe(option('--position-aggregation', values(['signed', 'abs'], ['sum'])), 20),
    maybe(option('--assert-conservation', numbers), 20),
    maybe(option('--epsilon', numbers), 20),
    maybe(fc.constant(['--follow-symlinks']), 10),
  )
  .map((options) => options.filter((o): o is string[] => o !== null));

/** Noise: unknown flags, stray positionals, a repeated valid flag, a lone dash. */
const noise = fc.array(from(['--colour', '-x', 'extra', '--', '-', '--method', '--ids', '--model=', '--help']), { maxLength: 2 });

type OutKind = 'none' | 'new' | 'existing' | 'directory' | 'stdout';

interface Case {
  command: string;
  options: string[][];
  out: OutKind;
  shuffle: boolean;
}

const outKind = from(['none', 'new', 'existing', 'directory', 'stdout']) as fc.Arbitrary<OutKind>;

/** Anything goes: each part may be missing, malformed, repeated or out of place. */
const hostileCase: fc.Arbitrary<Case> = fc
  .record({
    command: fc.oneof({ weight: 8, arbitrary: fc.constant('explain') }, { weight: 3, arbitrary: fc.constant('forward') }, { weight: 1, arbitrary: from(['help', 'bogus', '--help', '']) }),
    model: maybe(modelOption, 95),
    source: maybe(sourceOption, 95),
    method: maybe(option('--method', values(METHOD_NAMES, ['shap', ''])), 92),
    extras: extraOptions,
    noise: maybe(noise, 12),
    out: outKind,
    shuffle: fc.boolean(),
  })
  .map(({ command, model, source, method, extras, noise: n, out, shuffle }) => ({
    command,
    options: [model, source, method, ...extras, n].filter((o): o is string[] => o !== null),
    out,
    shuffle,
  }));

/** Well-formed explanations of a model with an input it takes, so that runs reach the GPU (exit 0 or 1). */
const cleanCase: fc.Arbitrary<Case> = fc
  .record({
    input: fc.constantFrom<[string, string[]]>(
      ['gpt2', ['--ids', '4,34,20']],
      ['gpt2', ['--text', 'the cat sat']],
      ['llama', ['--ids', '5,6,7,8']],
      ['bert', ['--ids', '1,2,3']],
      ['vit', ['--image', 'GOOD']],
    ),
    method: from(METHOD_NAMES),
    format: from(['json', 'ansi', 'html', 'svg']),
    tolerance: maybe(from(['0', '1e-3', '1']), 40),
    epsilon: maybe(from(['0', '1e-6', '0.1']), 30),
    aggregation: from(['signed', 'abs']),
    out: from(['none', 'new', 'existing', 'stdout']) as fc.Arbitrary<OutKind>,
  })
  .map(({ input: [model, source], method, format, tolerance, epsilon, aggregation, out }) => ({
    command: 'explain',
    options: [
      ['--model', modelDir(model)],
      source,
      ['--method', method],
      ['--format', format],
      ['--position-aggregation', aggregation],
      ...(tolerance === null ? [] : [['--assert-conservation', tolerance]]),
      ...(epsilon === null ? [] : [['--epsilon', epsilon]]),
    ],
    out,
    shuffle: false,
  }));

const argvArbitrary = fc.oneof({ weight: 2, arbitrary: hostileCase }, { weight: 1, arbitrary: cleanCase });

const SENTINEL = 'previous output, must survive a failure\n';

describe('lrp command line, fuzzed', () => {
  it(`${RUNS} random and hostile argv: exit 0/1/2, lrp: message and nothing written on failure`, async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(argvArbitrary, async (a) => {
        const dir = join(work, `run-${run++}`);
        mkdirSync(dir);
        const images: Record<string, string> = { GOOD: goodImage, BAD: badImage, MISSING: join(dir, 'missing.png') };
        const tokens = a.options.map((o) => o.map((t) => t.replace(/(GOOD|BAD|MISSING)$/, (which) => images[which]!)));
        const out = join(dir, 'out.txt');
        if (a.out === 'existing') writeFileSync(out, SENTINEL);
        if (a.out === 'new' || a.out === 'existing') tokens.push(['--out', out]);
        if (a.out === 'directory') tokens.push(['--out', dir]);
        if (a.out === 'stdout') tokens.push(['--out', '/dev/stdout']);
        if (a.shuffle) tokens.reverse();
        const argv = [a.command, ...tokens.flat()].filter((t, i) => i > 0 || t !== '');

        const started = performance.now();
        const { code, stdout, stderr } = await runCli(...argv);
        const seconds = (performance.now() - started) / 1000;
        const shown = JSON.stringify(argv);

        expect(seconds, shown).toBeLessThan(MAX_SECONDS_PER_RUN);
        expect([0, 1, 2], `${shown} → ${code}: ${stderr}`).toContain(code);
        const left = readdirSync(dir);
        if (code !== 0) {
          expect(stderr, shown).toMatch(/^lrp: \S/);
          expect(stdout, shown).toBe('');
          if (a.out === 'existing') expect(readFileSync(out, 'utf8'), shown).toBe(SENTINEL);
          expect(left, shown).toEqual(a.out === 'existing' ? ['out.txt'] : []);
        } else {
          expect(stderr, shown).toBe('');
          // `COMMAND --help` anywhere prints the usage and runs nothing: --out stays as it was.
          const help = (a.command === 'explain' || a.command === 'forward') && argv.slice(1).some((t) => t === '--help' || t === '-h');
          const wroteFile = !help && a.command === 'explain' && (a.out === 'new' || a.out === 'existing');
          if (help) {
            expect(stdout, shown).toMatch(/^usage:/);
            if (a.out === 'existing') expect(readFileSync(out, 'utf8'), shown).toBe(SENTINEL);
            expect(left, shown).toEqual(a.out === 'existing' ? ['out.txt'] : []);
          } else if (wroteFile) {
            expect(stdout, shown).toBe('');
            expect(readFileSync(out, 'utf8'), shown).not.toBe(SENTINEL);
            expect(left, shown).toEqual(['out.txt']);
          } else {
            expect(stdout.length, shown).toBeGreaterThan(0);
          }
        }
        expect(process.memoryUsage().rss, shown).toBeLessThan(4 * 2 ** 30);
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });
});
