/** Command-line parsing for `lrp`: every mistake is a UsageError, which exits with code 2. */
import { parseArgs } from 'node:util';
import { isMethodName, METHOD_NAMES } from '../methods.js';
import type { MethodName, PositionAggregation } from '../result.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `usage:
  lrp forward --model DIR|ORG/NAME[@REV] (--ids 1,2,3 | --text "..." | --image FILE) [--format json]
  lrp explain --model DIR|ORG/NAME[@REV] (--ids 1,2,3 | --text "..." | --image FILE) [--target ID]
              --method gi|cp-lrp|attnlrp|pa-lrp [--format json|ansi|html|svg] [--out FILE]
              [--position-aggregation signed|abs] [--assert-conservation TOL] [--epsilon E]

Exit codes: 0 success, 1 failure (GPU, or conservation beyond --assert-conservation), 2 bad input.`;

export type Format = 'json' | 'ansi' | 'html' | 'svg';

export interface CommonArgs {
  model: string;
  ids?: number[];
  text?: string;
  image?: string;
}

export interface ForwardArgs extends CommonArgs {
  command: 'forward';
  format: 'json';
}

export interface ExplainArgs extends CommonArgs {
  command: 'explain';
  method: MethodName;
  target?: number;
  format: Format;
  out?: string;
  positionAggregation: PositionAggregation;
  assertConservation?: number;
  epsilon?: number;
}

export type CliArgs = ForwardArgs | ExplainArgs | { command: 'help' };

function parseIds(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new UsageError(`--ids: expected comma-separated integers, got "${raw}"`);
  return parts.map((p) => {
    const v = Number(p);
    if (!Number.isInteger(v) || v < 0) throw new UsageError(`--ids: "${p}" is not a non-negative integer`);
    return v;
  });
}

function parseNumber(flag: string, raw: string | undefined, integer: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new UsageError(`${flag}: "${raw}" is not ${integer ? 'an integer' : 'a number'}`);
  }
  return v;
}

export function parseCli(argv: string[]): CliArgs {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') return { command: 'help' };
  if (command !== 'forward' && command !== 'explain') throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        model: { type: 'string' },
        ids: { type: 'string' },
        text: { type: 'string' },
        image: { type: 'string' },
        target: { type: 'string' },
        method: { type: 'string' },
        format: { type: 'string' },
        out: { type: 'string' },
        'position-aggregation': { type: 'string' },
        'assert-conservation': { type: 'string' },
        epsilon: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const model = str('model');
  if (!model) throw new UsageError(`--model DIR is required\n${USAGE}`);
  const sources = ['ids', 'text', 'image'].filter((k) => str(k) !== undefined);
  if (sources.length !== 1) throw new UsageError(`give exactly one of --ids, --text or --image (got ${sources.length})`);
  const common: CommonArgs = { model };
  if (str('ids') !== undefined) common.ids = parseIds(str('ids')!);
  if (str('text') !== undefined) {
    if (str('text')!.trim() === '') throw new UsageError('--text: the text is empty');
    common.text = str('text')!;
  }
  if (str('image') !== undefined) common.image = str('image')!;

  if (command === 'forward') {
    const format = str('format') ?? 'json';
    if (format !== 'json') throw new UsageError(`forward: --format must be json, got "${format}"`);
    for (const k of ['method', 'target', 'out', 'position-aggregation', 'assert-conservation', 'epsilon']) {
      if (str(k) !== undefined) throw new UsageError(`forward does not take --${k}`);
    }
    return { command, ...common, format };
  }
  const method = str('method');
  if (!method) throw new UsageError(`explain: --method is required (${METHOD_NAMES.join('|')})`);
  if (!isMethodName(method)) throw new UsageError(`explain: unknown method "${method}" (choose one of ${METHOD_NAMES.join(', ')})`);
  const format = str('format') ?? 'json';
  if (!['json', 'ansi', 'html', 'svg'].includes(format)) throw new UsageError(`explain: --format must be json, ansi, html or svg, got "${format}"`);
  const aggregation = str('position-aggregation') ?? 'signed';
  if (aggregation !== 'signed' && aggregation !== 'abs') throw new UsageError(`--position-aggregation must be signed or abs, got "${aggregation}"`);
  const tolerance = parseNumber('--assert-conservation', str('assert-conservation'), false);
  if (tolerance !== undefined && tolerance < 0) throw new UsageError('--assert-conservation: the tolerance must be >= 0');
  const epsilon = parseNumber('--epsilon', str('epsilon'), false);
  if (epsilon !== undefined && epsilon < 0) throw new UsageError('--epsilon must be >= 0');
  const args: ExplainArgs = { command, ...common, method, format: format as Format, positionAggregation: aggregation };
  const target = parseNumber('--target', str('target'), true);
  if (target !== undefined) args.target = target;
  if (str('out') !== undefined) args.out = str('out')!;
  if (tolerance !== undefined) args.assertConservation = tolerance;
  if (epsilon !== undefined) args.epsilon = epsilon;
  return args;
}
