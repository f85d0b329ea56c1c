/**
 * `lrp eval-merge DIR...`: one summary from the shards of an `eval-perturbation` run. Shards must
 * have been run with the same settings, model and data (checked against each one's
 * settings.json), cover every shard index once and be complete; anything else is exit 2.
 */
import { mkdir } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError } from '../../kernels/errors.js';
import { readResults, readSettings, settingsDifference, type SettingsFile } from '../eval/files.js';
import type { ExampleResult } from '../eval/protocol.js';
import { writeReport } from '../eval/report.js';
import { markdownTable, summarize } from '../eval/summary.js';
import { debugRequested, describeFailure, exitCodeFor, type Io as EvalIo } from './failures.js';

export const EVAL_MERGE_USAGE = `usage:
  lrp eval-merge DIR... [--out DIR]

Merges the shard folders of one lrp eval-perturbation run (DIR/shard-K-of-N) into one
summary.json, table.md and set of charts, written to --out (default: the shards' common parent).`;

export async function runEvalMerge(argv: string[], io: EvalIo): Promise<number> {
  try {
    let values: { out?: string | undefined; help?: boolean | undefined };
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({ args: argv, options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true }));
    } catch (error) {
      throw new InputError(`${(error as Error).message}\n${EVAL_MERGE_USAGE}`);
    }
    if (values.help) {
      io.stdout.write(`${EVAL_MERGE_USAGE}\n`);
      return 0;
    }
    if (positionals.length === 0) throw new InputError(`eval-merge: give the shard folders to merge\n${EVAL_MERGE_USAGE}`);

    const shards: { dir: string; file: SettingsFile; results: ExampleResult[] }[] = [];
    for (const dir of positionals) {
      const file = await readSettings(dir);
      if (!file) throw new InputError(`eval-merge: ${dir} holds no settings.json (not an eval-perturbation output)`);
      shards.push({ dir, file, results: await readResults(dir) });
    }
    const first = shards[0]!;
    for (const s of shards.slice(1)) {
      const diff = settingsDifference(first.file.settings, s.file.settings);
      if (diff) throw new InputError(`eval-merge: ${s.dir} was run with other settings than ${first.dir} (${diff})`);
      if (s.file.shard.count !== first.file.shard.count) {
        throw new InputError(`eval-merge: ${s.dir} is one of ${s.file.shard.count} shards, ${first.dir} one of ${first.file.shard.count}`);
      }
    }
    const count = first.file.shard.count;
    const seen = new Map<number, string>();
    for (const s of shards) {
      const other = seen.get(s.file.shard.index);
      if (other !== undefined) throw new InputError(`eval-merge: ${s.dir} and ${other} are both shard ${s.file.shard.index}/${count}`);
      seen.set(s.file.shard.index, s.dir);
      if (s.results.length !== s.file.examples) {
        throw new InputError(`eval-merge: ${s.dir} is incomplete (${s.results.length}/${s.file.examples} examples; finish it with --resume)`);
      }
    }
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
    if (missing.length > 0) throw new InputError(`eval-merge: shard(s) ${missing.join(', ')} of ${count} are missing`);

    const results = shards.flatMap((s) => s.results);
    const indices = new Set(results.map((r) => r.index));
    if (indices.size !== results.length) throw new InputError('eval-merge: an example appears in more than one shard');
    const expected = shards.reduce((n, s) => n + s.file.examples, 0);
    const summary = summarize(first.file.settings, shards.map((s) => s.file.shard), results, expected);

    const parents = new Set(positionals.map((d) => dirname(resolve(d))));
    const out = values.out ?? (parents.size === 1 ? [...parents][0]! : undefined);
    if (out === undefined) throw new InputError('eval-merge: the shard folders have different parents: pass --out DIR');
    await mkdir(out, { recursive: true });
    const written = await writeReport(out, summary);
    io.stdout.write(markdownTable(summary));
    io.stdout.write(`merged ${shards.length} shard(s), ${results.length} examples; wrote ${written.map((p) => basename(p)).join(', ')} to ${out}\n`);
    return 0;
  } catch (error) {
    const code = exitCodeFor(error);
    io.stderr.write(describeFailure(error, code, debugRequested()));
    return code;
  }
}
