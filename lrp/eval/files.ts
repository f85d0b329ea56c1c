/**
 * The files of an evaluation run: `settings.json` (what was run, on which model and data, which
 * shard), `results.jsonl` (one line per finished example, appended as it finishes), and the
 * atomic writer for everything derived from them. Checksums tie a run to its exact inputs.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../kernels/errors.js';
import { writeFileAtomically as writeAtomically } from '../../nn/files.js';
import type { ExampleResult, EvalMethod, RankBy } from './protocol.js';
import type { PositionAggregation } from '../result.js';

export const SETTINGS_FILE = 'settings.json';
export const RESULTS_FILE = 'results.jsonl';

/** Everything that determines the numbers; shards may be merged only when these are equal. */
export interface RunSettings {
  methods: EvalMethod[];
  steps: number;
  replace: string;
  rankBy: RankBy;
  positionAggregation: PositionAggregation;
  all: boolean;
  seed: number;
  model: { name: string; sha256: string };
  data: { name: string; sha256: string; examples: number };
}

export interface Shard {
  index: number;
  count: number;
}

export interface SettingsFile {
  settings: RunSettings;
  shard: Shard;
  /** Examples this shard owns (index % count === shard index). */
  examples: number;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** One checksum over the model folder's files that define its outputs (config, weights, tokenizer). */
export async function modelChecksum(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => /\.(safetensors|json)$/.test(n) && n !== 'heldout.jsonl').sort();
  const hash = createHash('sha256');
  for (const name of names) hash.update(`${name}\0${await sha256File(join(dir, name))}\n`);
  return hash.digest('hex');
}

export { writeAtomically };

export async function readSettings(dir: string): Promise<SettingsFile | null> {
  let text: string;
  try {
    text = await readFile(join(dir, SETTINGS_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    return JSON.parse(text) as SettingsFile;
  } catch (error) {
    throw new InputError(`${join(dir, SETTINGS_FILE)}: not valid JSON (${(error as Error).message})`);
  }
}

/**
 * The finished examples of a run. A last line without its newline is what a killed process
 * leaves mid-write: it is dropped (and `repair` rewrites the file without it).
 */
export async function readResults(dir: string, repair = false): Promise<ExampleResult[]> {
  const path = join(dir, RESULTS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  if (repair && complete !== text) await writeAtomically(path, complete);
  const results: ExampleResult[] = [];
  complete.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      results.push(JSON.parse(line) as ExampleResult);
    } catch (error) {
      throw new InputError(`${path}:${i + 1}: not valid JSON (${(error as Error).message})`);
    }
  });
  return results;
}

/** One line per example, written with a single append so a line is whole or absent. */
export async function appendResult(dir: string, result: ExampleResult): Promise<void> {
  await appendFile(join(dir, RESULTS_FILE), `${JSON.stringify(result)}\n`);
}

/** Says how two runs' settings differ, or null when they are equal. */
export function settingsDifference(a: RunSettings, b: RunSettings): string | null {
  const pairs: [string, unknown, unknown][] = [
    ['methods', a.methods.join(','), b.methods.join(',')],
    ['steps', a.steps, b.steps],
    ['replace', a.replace, b.replace],
    ['rank-by', a.rankBy, b.rankBy],
    ['position-aggregation', a.positionAggregation, b.positionAggregation],
    ['all', a.all, b.all],
    ['seed', a.seed, b.seed],
    ['model checksum', a.model.sha256, b.model.sha256],
    ['data checksum', a.data.sha256, b.data.sha256],
  ];
  const diffs = pairs.filter(([, x, y]) => x !== y).map(([k, x, y]) => `${k} ${String(x)} vs ${String(y)}`);
  return diffs.length > 0 ? diffs.join('; ') : null;
}
