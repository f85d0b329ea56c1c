/**
 * `lrp explain --input IN.jsonl --out OUT.jsonl`: every line of the input explained in one process
 * (the model loaded once), one JSON record per line with its provenance. A bad line is reported
 * with its line number and the others go on; the output is written whole at the end (atomically),
 * with an `error` record for each failed line, and the exit code then says that some failed.
 */
import { InputError } from '../../kernels/errors.js';
import { readBoundedFile } from '../../nn/files.js';
import type { TransformerModel } from '../../nn/models/types.js';
import { modelChecksum } from '../eval/files.js';
import { createProgress } from '../eval/progress.js';
import { explain, type ExplainInput, type ExplainOptions } from '../explain.js';
import { DEFAULT_EPSILON, type MethodSpec } from '../methods.js';
import type { Explanation, MethodName } from '../result.js';
import type { ExplainArgs } from './args.js';
import { jsonContract } from './contract.js';
import { EXIT_BAD_INPUT, EXIT_COMPUTATION_FAILED, EXIT_OK, exitCodeFor, type Io } from './failures.js';
import { STDOUT_PATH, writeOut } from './output.js';
import { packageVersion } from './version.js';

/** Input files above this are refused rather than read into memory. */
const MAX_INPUT_BYTES = 256 * 2 ** 20;

interface Line {
  number: number;
  input: ExplainInput;
  target?: number | string;
  contrast?: number | string;
}

function targetField(value: unknown, key: string): number | string | undefined {
  if (value === undefined) return undefined;
  if ((typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) || (typeof value === 'string' && value !== '')) return value;
  throw new InputError(`"${key}" must be a non-negative integer id or a non-empty token/label string`);
}

/** One input line: `{"text": ...}` or `{"ids": [...]}`, optional `target` (or `label`) and `contrast`. */
function parseLine(text: string, number: number): Line {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InputError(`not valid JSON (${(error as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError('each line must be a JSON object');
  const o = raw as Record<string, unknown>;
  const hasText = o['text'] !== undefined;
  const hasIds = o['ids'] !== undefined;
  if (hasText === hasIds) throw new InputError('give exactly one of "text" or "ids"');
  let input: ExplainInput;
  if (hasText) {
    if (typeof o['text'] !== 'string' || o['text'].trim() === '') throw new InputError('"text" must be a non-empty string');
    input = { text: o['text'] };
  } else {
    const ids = o['ids'];
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => Number.isSafeInteger(id) && (id as number) >= 0)) {
      throw new InputError('"ids" must be a non-empty array of non-negative integers');
    }
    input = { ids: [ids as number[]] };
  }
  const line: Line = { number, input };
  const target = targetField(o['target'] ?? o['label'], o['target'] !== undefined ? 'target' : 'label');
  if (target !== undefined) line.target = target;
  const contrast = targetField(o['contrast'], 'contrast');
  if (contrast !== undefined) line.contrast = contrast;
  return line;
}

function record(e: Explanation, number: number, provenance: Record<string, unknown>, details: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { line: number, ...jsonContract(e), provenance: { ...provenance, targetText: e.targetText ?? null } };
  if (details && e.details) out['details'] = e.details;
  return out;
}

export async function runBatch(args: ExplainArgs & { input: string; out: string }, model: TransformerModel, method: MethodName | MethodSpec, io: Io): Promise<number> {
  const text = new TextDecoder().decode(await readBoundedFile(args.input, '--input', MAX_INPUT_BYTES));
  const lines = text.split('\n').map((t, i) => ({ number: i + 1, text: t.trim() })).filter((l) => l.text !== '');
  if (lines.length === 0) throw new InputError(`${args.input}: no input lines`);
  const provenance = {
    package: `transformer-lrp ${packageVersion()}`,
    model: args.model,
    modelSha256: await modelChecksum(args.model),
    method: typeof method === 'string' ? method : method.name,
    epsilon: args.epsilon ?? DEFAULT_EPSILON,
  };
  const progress = createProgress(io.stderr, lines.length, 0, 'explain');
  const records: string[] = [];
  let worst = EXIT_OK;
  try {
    for (const { number, text: lineText } of lines) {
      try {
        const line = parseLine(lineText, number);
        const options: ExplainOptions = { method, positionAggregation: args.positionAggregation };
        const target = line.target ?? args.target;
        const contrast = line.contrast ?? args.contrast;
        if (target !== undefined) options.target = target;
        if (contrast !== undefined) options.contrast = contrast;
        if (args.epsilon !== undefined) options.epsilon = args.epsilon;
        const e = await explain(model, line.input, options);
        records.push(JSON.stringify(record(e, number, provenance, args.details === true)));
        progress.tick();
      } catch (error) {
        const code = exitCodeFor(error);
        if (code !== EXIT_BAD_INPUT && code !== EXIT_COMPUTATION_FAILED) throw error;
        // Bad input outranks a failed computation in the final exit code.
        worst = worst === EXIT_BAD_INPUT || code === EXIT_BAD_INPUT ? EXIT_BAD_INPUT : code;
        const message = (error as Error).message;
        io.stderr.write(`${io.stderr.isTTY ? '\r\u001b[K' : ''}lrp: ${args.input}:${number}: ${message}\n`);
        records.push(JSON.stringify({ line: number, error: message }));
        progress.tick(`line ${number} failed`);
      }
    }
  } finally {
    progress.stop();
  }
  const output = `${records.join('\n')}\n`;
  if (STDOUT_PATH.test(args.out)) io.stdout.write(output);
  else await writeOut(args.out, output, { followSymlinks: args.followSymlinks });
  return worst;
}
