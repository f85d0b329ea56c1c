/**
 * The `lrp` command's logic: `forward` prints a model's logits, `explain` writes an explanation
 * as JSON, a terminal heatmap, HTML or SVG. Bad input returns exit code 2 and writes nothing.
 * Output goes through an `Io` so tests can run the command in-process.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { noGrad } from '../../autograd/graph.js';
import { tidy } from '../../autograd/scope.js';
import { NoAdapterError } from '../../kernels/runtime.js';
import { resolveModelDir } from '../../nn/hub-cache.js';
import { loadModel } from '../../nn/load.js';
import { loadImage } from '../../nn/image.js';
import { loadTokenizer, type TextTokenizer } from '../../nn/tokenizer.js';
import type { ModelInput, TransformerModel } from '../../nn/models/types.js';
import { explain } from '../explain.js';
import { renderAnsi, renderHtml, renderSvg } from '../render/index.js';
import type { Explanation } from '../result.js';
import { parseCli, USAGE, UsageError, type CliArgs, type CommonArgs, type ExplainArgs, type Format } from './args.js';

/** Exit codes: 2 for anything the user's input caused, 1 for failures of the machine. */
function exitCodeFor(error: unknown): number {
  if (error instanceof NoAdapterError) return 1;
  if (error instanceof Error && error.message.startsWith('WebGPU reported')) return 1;
  return 2;
}



export interface Io {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
}

async function load(dir: string, io: Io): Promise<TransformerModel> {
  // Progress on long loads, only where a person watches (a terminal), never into pipes.
  const progress = (message: string): void => {
    if (io.stderr.isTTY) io.stderr.write(`\r${message}\u001b[K`);
  };
  const model = await loadModel(dir, {
    onProgress: (done, total) => progress(`loading ${basename(dir)}: ${Math.round((100 * done) / total)}%`),
  });
  progress('');
  return model;
}

interface PreparedInput {
  input: ModelInput;
  texts?: string[];
}

async function prepareInput(args: CommonArgs, model: TransformerModel): Promise<PreparedInput> {
  const info = model.info;
  if (info.image) {
    if (!args.image) throw new UsageError(`${info.architecture} takes an image: use --image FILE`);
    return { input: { pixelValues: await loadImage(args.image, args.model, info.image.size) } };
  }
  if (args.image) throw new UsageError(`${info.architecture} takes text: use --ids or --text`);
  let tokenizer: TextTokenizer | null = null;
  let ids: number[];
  let tokenTypeIds: number[] | undefined;
  if (args.text !== undefined) {
    tokenizer = await loadTokenizer(args.model);
    const encoded = tokenizer.encode(args.text);
    ids = encoded.ids;
    tokenTypeIds = encoded.tokenTypeIds;
    if (ids.length === 0) throw new UsageError('--text: the tokenizer produced no tokens');
  } else {
    ids = args.ids!;
    tokenizer = await loadTokenizer(args.model).catch(() => null);
  }
  if (ids.length === 0) throw new UsageError('the input is empty');
  ids.forEach((id, i) => {
    if (id >= info.vocabSize) throw new UsageError(`id ${id} at position ${i} is outside the vocabulary (size ${info.vocabSize})`);
  });
  if (ids.length > info.maxPositions) {
    throw new UsageError(`the input has ${ids.length} tokens, more than max_position_embeddings (${info.maxPositions})`);
  }
  const input: ModelInput = { ids: [ids] };
  if (tokenTypeIds) input.tokenTypeIds = [tokenTypeIds];
  const prepared: PreparedInput = { input };
  if (tokenizer) prepared.texts = ids.map((id) => tokenizer!.tokenText(id));
  return prepared;
}

function render(e: Explanation, format: Format, io: Io): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify({ method: e.method, target: e.target, logit: e.logit, tokens: e.tokens, conservation: e.conservation, layers: e.layers }, null, 2)}\n`;
    case 'ansi':
      return `${renderAnsi(e, { color: io.stdout.isTTY === true })}\n`;
    case 'html':
      return renderHtml(e);
    case 'svg':
      return renderSvg(e);
  }
}

/** Writes to a temporary file beside the target, then renames: never a half-written file. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, text);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new UsageError(`--out ${path}: cannot write (${(error as Error).message})`);
  }
}

async function runForward(args: CommonArgs, io: Io): Promise<number> {
  const model = await load(args.model, io);
  try {
    const { input } = await prepareInput(args, model);
    const logits = noGrad(() => tidy(() => model.forward(input, { lastPositionOnly: true })));
    const values = Array.from(await logits.toArray());
    logits.dispose();
    io.stdout.write(`${JSON.stringify({ logits: values })}\n`);
    return 0;
  } finally {
    model.dispose();
  }
}

async function runExplain(args: ExplainArgs, io: Io): Promise<number> {
  const model = await load(args.model, io);
  try {
    const { input, texts } = await prepareInput(args, model);
    const options: Parameters<typeof explain>[2] = { method: args.method, positionAggregation: args.positionAggregation };
    if (args.target !== undefined) options.target = args.target;
    if (args.epsilon !== undefined) options.epsilon = args.epsilon;
    if (texts) options.tokenTexts = texts;
    const explanation = await explain(model, input, options);
    const text = render(explanation, args.format, io);
    if (args.out) await writeAtomically(args.out, text);
    else io.stdout.write(text);
    const error = explanation.conservation.relativeError;
    if (args.assertConservation !== undefined && !(error <= args.assertConservation)) {
      io.stderr.write(`conservation: relative error ${error.toExponential(3)} exceeds --assert-conservation ${args.assertConservation}\n`);
      return 1;
    }
    return 0;
  } finally {
    model.dispose();
  }
}

export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCli(argv);
  } catch (error) {
    io.stderr.write(`lrp: ${(error as Error).message}\n`);
    return 2;
  }
  if (args.command === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    args.model = resolveModelDir(args.model);
    return args.command === 'forward' ? await runForward(args, io) : await runExplain(args, io);
  } catch (error) {
    io.stderr.write(`lrp: ${(error as Error).message}\n`);
    return exitCodeFor(error);
  }
}

