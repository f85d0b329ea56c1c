/** Command-line parsing for `lrp`: every mistake is a UsageError, which exits with code 2. */
import { parseArgs } from 'node:util';
import { InputError } from '../../kernels/errors.js';
import { isMethodName, METHOD_NAMES } from '../methods.js';
import { MAX_SCALE, parseScaleMode, type ScaleMode } from '../render/scale.js';
import type { MethodName, PositionAggregation } from '../result.js';
import type { TargetSpec } from '../target.js';
import type { WeightDtype } from '../../nn/upload.js';

/** A malformed command line: bad input, so exit code 2. */
export class UsageError extends InputError {
  override name = 'UsageError';
}

export const USAGE = `usage:
  lrp train --task NAME --out DIR [--resume] [--steps N] [--seed N]
  lrp eval (--task NAME | --model DIR) [--method gi,cp-lrp,attnlrp,pa-lrp,random] [--n N] [--format table|json]
  lrp forward --model DIR|ORG/NAME[@REV] (--ids 1,2,3 | --text "..." | --image FILE) [--format json] [--top-k K]
              [--dtype auto|f32]
  lrp explain --model DIR|ORG/NAME[@REV] (--ids 1,2,3 | --text "..." | --image FILE)
              [--target ID|TOKEN|LABEL] [--contrast ID|TOKEN|LABEL]
              --method gi|cp-lrp|attnlrp|pa-lrp[,...] [--format json|ansi|html|svg|tex] [--out FILE]
              [--position-aggregation signed|abs] [--assert-conservation TOL] [--epsilon E]
              [--follow-symlinks] [--scale max|pNN|exclude-predicting] [--numbers] [--words]
              (--format svg|html|tex with --method m1,m2,...: the methods side by side)
              [--rules FILE]   (a method or composite as JSON or a JS module; docs/writing-rules.md)
              [--dtype auto|f32]   (f32: hold every weight as f32; auto keeps F16/BF16 matrices 16-bit)
  lrp explain --model DIR (--ids 1,2,3 | --text "...") --method M --generate N [--format json|ansi|html|svg] ...
              (greedy generation of N tokens, each explained over the tokens before it)
  lrp explain --model DIR --input IN.jsonl --out OUT.jsonl --method M [--details] ...
              (a batch: one explanation per line {"text"|"ids", "target"?, "contrast"?})
  lrp eval-perturbation --model DIR --data FILE.jsonl [--method M[,M...]] [--out DIR] ...
  lrp eval-merge DIR... [--out DIR]
  lrp serve [--model DIR|ORG/NAME] [--port N]   (the explorer: a web page, explains in the browser)
  lrp --version                 lrp COMMAND --help   (eval-perturbation --help lists its options)

--out FILE replaces a regular file atomically (keeping its mode), writes in place to a device,
FIFO or /dev/stdout, and refuses a symbolic link unless --follow-symlinks is given.
Exit codes: 0 success; 1 the computation failed (GPU, non-finite result, conservation beyond
--assert-conservation, disk full); 2 bad input; 3 internal error (LRP_DEBUG=1 prints the stack).
Nothing is written on a non-zero exit.
--target and --contrast take a vocabulary or class id (digits), a class label (config.json
id2label) or, for a causal LM, a string that is exactly one token; --contrast explains
logit[target] - logit[contrast].`;

export type Format = 'json' | 'ansi' | 'html' | 'svg' | 'tex';

/** Formats that can show several methods side by side. */
const FIGURE_FORMATS: readonly Format[] = ['html', 'svg', 'tex'];

export interface CommonArgs {
  model: string;
  /** How weights are held on the GPU (`--dtype`); absent means `auto`. */
  dtype?: WeightDtype;
  ids?: number[];
  text?: string;
  image?: string;
}

export interface ForwardArgs extends CommonArgs {
  command: 'forward';
  format: 'json';
  /** Also print the K most likely predictions with their texts. */
  topK?: number;
}

export interface ExplainArgs extends CommonArgs {
  command: 'explain';
  /** The first method asked for; absent only with `rules`, whose file then names its base method. */
  method?: MethodName;
  /** Every method asked for (`--method a,b`): figures show them side by side. */
  methods: MethodName[];
  /** A method description file (JSON or JS) for custom rules and composites. */
  rules?: string;
  /** Batch mode: a JSONL file of inputs, one explanation per line, JSONL to `out`. */
  input?: string;
  /** Figure options (svg, html, tex). */
  figure: { scale: ScaleMode; numbers: boolean; words: boolean };
  /** Batch mode: add each explanation's details (per-tensor positional relevance, rules applied). */
  details?: boolean;
  /** An id (digits on the command line) or a token string / class label, resolved once the model is loaded. */
  target?: TargetSpec;
  /** Contrastive attribution: explain logit[target] − logit[contrast]. */
  contrast?: TargetSpec;
  /** Generate this many tokens greedily and explain each (causal LMs). */
  generate?: number;
  format: Format;
  out?: string;
  /** Write through a symbolic link at --out to its target (refused otherwise). */
  followSymlinks: boolean;
  positionAggregation: PositionAggregation;
  assertConservation?: number;
  epsilon?: number;
}

export type CliArgs = ForwardArgs | ExplainArgs | { command: 'help' };

/** Plain decimal digits only: no sign, spaces, hex (0x10), exponent (1e1) or fraction (2.0). */
const DECIMAL_INTEGER = /^[0-9]+$/;
/** A plain decimal number, optionally negative (refused later with a clearer message): no hex, no spaces. */
const DECIMAL_NUMBER = /^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

function parseInteger(flag: string, raw: string): number {
  const v = Number(raw);
  if (!DECIMAL_INTEGER.test(raw) || !Number.isSafeInteger(v)) throw new UsageError(`${flag}: "${raw}" is not a non-negative integer`);
  return v;
}

function parseIds(raw: string): number[] {
  const parts = raw.split(',');
  if (parts.some((p) => p === '')) throw new UsageError(`--ids: expected comma-separated integers, got "${raw}"`);
  return parts.map((p) => parseInteger('--ids', p));
}

/** Digits are an id; anything else a token string or class label (resolved against the model). */
function parseTarget(flag: string, raw: string): TargetSpec {
  if (raw === '') throw new UsageError(`${flag}: the value is empty (give an id, a token or a class label)`);
  return DECIMAL_INTEGER.test(raw) ? parseInteger(flag, raw) : raw;
}

function parseNumber(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!DECIMAL_NUMBER.test(raw) || !Number.isFinite(v)) throw new UsageError(`${flag}: "${raw}" is not a number`);
  return v;
}

/** `--dtype auto|f32`, shared by every command that loads a model. */
export function parseDtype(raw: string | undefined): WeightDtype | undefined {
  if (raw === undefined) return undefined;
  if (raw !== 'auto' && raw !== 'f32') throw new UsageError(`--dtype must be auto or f32, got "${raw}"`);
  return raw;
}

const STRING_OPTIONS = ['dtype', 'model', 'ids', 'text', 'image', 'target', 'contrast', 'top-k', 'method', 'format', 'out', 'position-aggregation', 'assert-conservation', 'epsilon', 'scale', 'rules', 'input', 'generate'] as const;
const BOOLEAN_OPTIONS = ['follow-symlinks', 'numbers', 'words', 'details'] as const;

/** `--generate N`: N ≥ 1 new tokens, each explained; options that name one prediction do not apply. */
function checkGenerate(args: ExplainArgs, count: number, scaleGiven: boolean): void {
  if (count < 1) throw new UsageError('--generate: give at least 1 token');
  const clash = args.input !== undefined ? 'input' : args.image !== undefined ? 'image' : args.target !== undefined ? 'target' : args.contrast !== undefined ? 'contrast' : undefined;
  if (clash) throw new UsageError(`--generate does not take --${clash} (each generated token is its step's target)`);
  if (args.methods.length > 1) throw new UsageError('--generate explains with one method at a time');
  if (args.format === 'tex') throw new UsageError('--generate: --format must be json, ansi, html or svg, not tex');
  if (args.figure.words) throw new UsageError('--generate does not take --words');
  // Each row's predicting position holds most of its relevance: by default the matrix leaves it out of the scale.
  if (!scaleGiven) args.figure.scale = { kind: 'exclude-predicting' };
  args.generate = count;
}

export function parseCli(argv: string[]): CliArgs {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') return { command: 'help' };
  if (command !== 'forward' && command !== 'explain') throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  let values: Record<string, (string | boolean)[] | undefined>;
  try {
    // Every option may be given at most once: a repeated flag is ambiguous, not "last one wins".
    const options: Record<string, { type: 'string' | 'boolean'; multiple: true }> = {};
    for (const k of STRING_OPTIONS) options[k] = { type: 'string', multiple: true };
    for (const k of BOOLEAN_OPTIONS) options[k] = { type: 'boolean', multiple: true };
    values = parseArgs({ args: rest, options, strict: true, allowPositionals: false }).values as Record<string, (string | boolean)[] | undefined>;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  for (const [k, v] of Object.entries(values)) {
    if (v && v.length > 1) throw new UsageError(`--${k} is given ${v.length} times; give it once`);
  }
  const str = (k: string): string | undefined => values[k]?.[0] as string | undefined;
  const followSymlinks = values['follow-symlinks'] !== undefined;
  const model = str('model');
  if (!model) throw new UsageError(`--model DIR is required\n${USAGE}`);
  const sources = ['ids', 'text', 'image', 'input'].filter((k) => str(k) !== undefined);
  if (sources.length !== 1) throw new UsageError(`give exactly one of --ids, --text, --image or --input (got ${sources.length})`);
  const common: CommonArgs = { model };
  const dtype = parseDtype(str('dtype'));
  if (dtype !== undefined) common.dtype = dtype;
  if (str('ids') !== undefined) common.ids = parseIds(str('ids')!);
  if (str('text') !== undefined) {
    if (str('text')!.trim() === '') throw new UsageError('--text: the text is empty');
    common.text = str('text')!;
  }
  if (str('image') !== undefined) {
    if (str('image') === '') throw new UsageError('--image: the file name is empty');
    common.image = str('image')!;
  }

  if (command === 'forward') {
    const format = str('format') ?? 'json';
    if (format !== 'json') throw new UsageError(`forward: --format must be json, got "${format}"`);
    for (const k of ['input', 'generate', 'method', 'target', 'contrast', 'out', 'position-aggregation', 'assert-conservation', 'epsilon', 'scale', 'rules', ...BOOLEAN_OPTIONS]) {
      if (values[k] !== undefined) throw new UsageError(`forward does not take --${k}`);
    }
    const forward: ForwardArgs = { command, ...common, format };
    if (str('top-k') !== undefined) {
      forward.topK = parseInteger('--top-k', str('top-k')!);
      if (forward.topK < 1) throw new UsageError('--top-k must be at least 1');
    }
    return forward;
  }
  if (values['top-k'] !== undefined) throw new UsageError('explain does not take --top-k (it belongs to forward)');
  const methodList = str('method');
  const rules = str('rules');
  if (rules === '') throw new UsageError('--rules: the file name is empty');
  if (!methodList && rules === undefined) throw new UsageError(`explain: --method is required (${METHOD_NAMES.join('|')}), or --rules FILE`);
  const methods = methodList === undefined ? [] : methodList.split(',');
  for (const m of methods) {
    if (!isMethodName(m)) throw new UsageError(`explain: unknown method "${m}" (choose one of ${METHOD_NAMES.join(', ')})`);
  }
  if (new Set(methods).size !== methods.length) throw new UsageError(`explain: --method names a method twice ("${methodList}")`);
  if (rules !== undefined && methods.length > 1) throw new UsageError('explain: --rules takes at most one --method (its base method)');
  const format = str('format') ?? 'json';
  if (!['json', 'ansi', 'html', 'svg', 'tex'].includes(format)) throw new UsageError(`explain: --format must be json, ansi, html, svg or tex, got "${format}"`);
  if (methods.length > 1 && !FIGURE_FORMATS.includes(format as Format)) {
    throw new UsageError(`explain: several methods are shown side by side with --format svg, html or tex, not ${format}`);
  }
  const figureFlags = ['scale', 'numbers', 'words'].filter((k) => values[k] !== undefined);
  if (figureFlags.length > 0 && !FIGURE_FORMATS.includes(format as Format)) {
    throw new UsageError(`explain: --${figureFlags[0]} applies to --format svg, html or tex, not ${format}`);
  }
  let scale: ScaleMode = MAX_SCALE;
  try {
    if (str('scale') !== undefined) scale = parseScaleMode(str('scale')!);
  } catch (error) {
    throw new UsageError(`--${(error as Error).message}`);
  }
  const aggregation = str('position-aggregation') ?? 'signed';
  if (aggregation !== 'signed' && aggregation !== 'abs') throw new UsageError(`--position-aggregation must be signed or abs, got "${aggregation}"`);
  const tolerance = parseNumber('--assert-conservation', str('assert-conservation'));
  if (tolerance !== undefined && tolerance < 0) throw new UsageError('--assert-conservation: the tolerance must be >= 0');
  const epsilon = parseNumber('--epsilon', str('epsilon'));
  if (epsilon !== undefined && epsilon < 0) throw new UsageError('--epsilon must be >= 0');
  if (followSymlinks && str('out') === undefined) throw new UsageError('--follow-symlinks applies to --out FILE, which is not given');
  const args: ExplainArgs = {
    command,
    ...common,
    methods: methods as MethodName[],
    format: format as Format,
    followSymlinks,
    positionAggregation: aggregation,
    figure: { scale, numbers: values.numbers !== undefined, words: values.words !== undefined },
  };
  if (values.details !== undefined) args.details = true;
  if (methods.length > 0) args.method = methods[0] as MethodName;
  if (rules !== undefined) args.rules = rules;
  if (str('target') !== undefined) args.target = parseTarget('--target', str('target')!);
  if (str('contrast') !== undefined) args.contrast = parseTarget('--contrast', str('contrast')!);
  if (str('out') !== undefined) {
    if (str('out') === '') throw new UsageError('--out: the file name is empty');
    args.out = str('out')!;
  }
  if (tolerance !== undefined) args.assertConservation = tolerance;
  if (epsilon !== undefined) args.epsilon = epsilon;
  if (str('input') !== undefined) {
    // Batch mode: one explanation per JSONL line, written as JSONL to --out.
    if (str('input') === '') throw new UsageError('--input: the file name is empty');
    if (args.out === undefined) throw new UsageError('--input needs --out FILE (the JSONL output)');
    if (format !== 'json') throw new UsageError(`--input writes JSONL: --format must be json, got "${format}"`);
    if (args.methods.length > 1) throw new UsageError('--input explains with one method at a time');
    if (tolerance !== undefined) throw new UsageError('--input does not take --assert-conservation (each record carries its ledger)');
    args.input = str('input')!;
  } else if (values.details !== undefined) {
    throw new UsageError('--details applies to --input batches');
  }
  if (str('generate') !== undefined) checkGenerate(args, parseInteger('--generate', str('generate')!), str('scale') !== undefined);
  return args;
}
