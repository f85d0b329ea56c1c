/**
 * The `lrp` command's logic: `forward` prints a model's logits, `explain` writes an explanation
 * as JSON, a terminal heatmap, HTML or SVG. Exit codes: 0 success, 1 the computation failed,
 * 2 bad input, 3 internal error; nothing is written on a non-zero exit (output is produced last).
 * Output goes through an `Io` so tests can run the command in-process.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { noGrad } from '../../autograd/graph.js';
import { tidy } from '../../autograd/scope.js';
// The CLI runs in Node: Dawn is the runtime's starter (LRP_ADAPTER, LRP_BACKEND, LRP_POOL_IDLE_MB).
import '../../kernels/dawn.js';
import { envFlag } from '../../kernels/env.js';
import { ComputationError } from '../../kernels/errors.js';
import { resolveModelDir } from '../../nn/hub-cache.js';
import { loadModel } from '../../nn/folder.js';
import type { WeightDtype } from '../../nn/upload.js';
import { loadImage } from '../../nn/image.js';
import type { ModelInput, TransformerModel } from '../../nn/models/types.js';
import { explain, type ExplainOptions } from '../explain.js';
import { topPredictions } from '../predictions.js';
import { unexplainedFraction } from '../conservation.js';
import { assertFiniteLogits, locateNonFiniteForward } from '../finite.js';
import { renderAnsi, renderHtml, renderHtmlComparison, renderSvg, renderSvgComparison, renderTikz, type FigureOptions, type OverlayImage } from '../render/index.js';
import type { Explanation } from '../result.js';
import { debugRequested, describeFailure, EXIT_OK, exitCodeFor, type Io } from './failures.js';
import { runBatch } from './batch.js';
import { runGenerate } from './generate.js';
import { jsonContract } from './contract.js';
import { runEvalMerge } from './evalMerge.js';
import { runEvalPerturbation } from './evalPerturbation.js';
import { EVAL_USAGE, runEval } from './eval.js';
import { runTrain, TRAIN_USAGE } from './train.js';
import { runServe } from './serve.js';
import { packageVersion } from './version.js';
import { parseCli, USAGE, UsageError, type CliArgs, type CommonArgs, type ExplainArgs, type ForwardArgs } from './args.js';
import { STDOUT_PATH, writeOut } from './output.js';
import { checkPatterns, loadRulesFile } from './rulesFile.js';

export { EXIT_OK, EXIT_COMPUTATION_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL_ERROR, exitCodeFor, describeFailure, type Io } from './failures.js';

async function load(dir: string, io: Io, dtype: WeightDtype = 'auto'): Promise<TransformerModel> {
  // Progress on long loads, only where a person watches (a terminal), never into pipes.
  const progress = (message: string): void => {
    if (io.stderr.isTTY) io.stderr.write(`\r${message}\u001b[K`);
  };
  const model = await loadModel(dir, {
    dtype,
    onProgress: (done, total) => progress(`loading ${basename(dir)}: ${Math.round((100 * done) / total)}%`),
  });
  progress('');
  return model;
}

interface PreparedInput {
  /** What the model runs on (text encoded by the model's tokenizer). */
  input: ModelInput;
  /** The input text, given to explain() as text so its tokens get character offsets. */
  text?: string;
}

async function prepareInput(args: CommonArgs, model: TransformerModel): Promise<PreparedInput> {
  const info = model.info;
  if (info.image) {
    if (!args.image) throw new UsageError(`${info.architecture} takes an image: use --image FILE`);
    return { input: { pixelValues: await loadImage(args.image, args.model, info.image.size) } };
  }
  if (args.image) throw new UsageError(`${info.architecture} takes text: use --ids or --text`);
  let ids: number[];
  let tokenTypeIds: number[] | undefined;
  if (args.text !== undefined) {
    // loadModel attached the folder's tokenizer.json when there is one.
    if (!model.tokenizer) throw new UsageError(`${join(args.model, 'tokenizer.json')}: not found (text input needs the model's tokenizer.json; pass --ids instead)`);
    const encoded = model.tokenizer.encode(args.text);
    ids = encoded.ids;
    tokenTypeIds = encoded.tokenTypeIds;
    if (ids.length === 0) throw new UsageError('--text: the tokenizer produced no tokens');
  } else {
    ids = args.ids!;
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
  return args.text !== undefined ? { input, text: args.text } : { input };
}

/** The input image as a data URL, for drawing relevance over it (PNG and JPEG only get this far). */
async function imageHref(path: string): Promise<OverlayImage> {
  const bytes = await readFile(path);
  const mime = bytes[0] === 0x89 ? 'image/png' : 'image/jpeg';
  return { href: `data:${mime};base64,${bytes.toString('base64')}` };
}


async function render(es: Explanation[], args: ExplainArgs, io: Io): Promise<string> {
  const e = es[0]!;
  const figure: FigureOptions = { scale: args.figure.scale, numbers: args.figure.numbers, words: args.figure.words };
  if (args.text !== undefined) figure.text = args.text;
  switch (args.format) {
    case 'json':
      return `${JSON.stringify(jsonContract(e), null, 2)}\n`;
    case 'ansi':
      return `${renderAnsi(e, { color: io.stdout.isTTY === true })}\n`;
    case 'html':
      if (es.length > 1) return renderHtmlComparison(es, figure);
      return renderHtml(e, args.image !== undefined ? { ...figure, image: await imageHref(args.image) } : figure);
    case 'svg':
      return es.length > 1 ? renderSvgComparison(es, figure) : renderSvg(e, figure);
    case 'tex':
      return renderTikz(es, figure);
  }
}

async function runForward(args: ForwardArgs, io: Io): Promise<number> {
  const model = await load(args.model, io, args.dtype);
  try {
    const { input } = await prepareInput(args, model);
    const logits = noGrad(() => tidy(() => model.forward(input, { lastPositionOnly: true })));
    const values = Array.from(await logits.toArray());
    logits.dispose();
    await assertFiniteLogits(values, () => locateNonFiniteForward(model, input));
    const result: { logits: number[]; top?: ReturnType<typeof topPredictions> } = { logits: values };
    if (args.topK !== undefined) result.top = topPredictions(model, values, args.topK);
    io.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } finally {
    model.dispose();
  }
}

async function runExplain(args: ExplainArgs, io: Io): Promise<number> {
  // A bad rules file is reported before the (slow) model load.
  const ruled = args.rules !== undefined ? await loadRulesFile(args.rules, args.method) : undefined;
  const methods = ruled !== undefined ? [ruled] : args.methods;
  const model = await load(args.model, io, args.dtype);
  try {
    if (args.rules !== undefined && typeof ruled === 'object') checkPatterns(ruled, args.rules, model.modulePaths());
    if (args.input !== undefined) return await runBatch({ ...args, input: args.input, out: args.out! }, model, methods[0]!, io);
    if (args.generate !== undefined) return await runGenerate({ ...args, generate: args.generate }, model, methods[0]!, io);
    const { input, text: inputText } = await prepareInput(args, model);
    const explanations: Explanation[] = [];
    for (const method of methods) {
      const options: ExplainOptions = { method, positionAggregation: args.positionAggregation };
      // Side-by-side methods explain the same target: the first method's (the argmax unless given).
      const target = explanations[0]?.target ?? args.target;
      if (target !== undefined) options.target = target;
      if (args.contrast !== undefined) options.contrast = explanations[0]?.contrast ?? args.contrast;
      if (args.epsilon !== undefined) options.epsilon = args.epsilon;
      const explanation = await explain(model, inputText !== undefined ? { text: inputText } : input, options);
      // Checked before anything is written: a failed assertion leaves stdout and --out untouched.
      // What reached neither an input nor a bias (rule losses and rounding), over |output|.
      const unexplained = unexplainedFraction(explanation.conservation);
      if (args.assertConservation !== undefined && !(unexplained <= args.assertConservation)) {
        const which = methods.length > 1 ? ` (${explanation.method})` : '';
        throw new ComputationError(`conservation: unexplained share ${unexplained.toExponential(3)} exceeds --assert-conservation ${args.assertConservation}${which}`);
      }
      explanations.push(explanation);
    }
    const text = await render(explanations, args, io);
    if (args.out === undefined || STDOUT_PATH.test(args.out)) io.stdout.write(text);
    else await writeOut(args.out, text, { followSymlinks: args.followSymlinks });
    return EXIT_OK;
  } finally {
    model.dispose();
  }
}

export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    io.stdout.write(`lrp ${packageVersion()}\n`);
    return EXIT_OK;
  }
  // `lrp COMMAND --help` prints that command's usage (eval-perturbation and eval-merge have their own).
  const ownHelp: Record<string, string> = { train: TRAIN_USAGE, eval: EVAL_USAGE, forward: USAGE, explain: USAGE };
  const helpFor = argv[0] !== undefined ? ownHelp[argv[0]] : undefined;
  if (helpFor !== undefined && argv.slice(1).some((a) => a === '--help' || a === '-h')) {
    io.stdout.write(`${helpFor}\n`);
    return EXIT_OK;
  }
  if (argv[0] === 'eval-perturbation') return runEvalPerturbation(argv.slice(1), io);
  if (argv[0] === 'eval-merge') return runEvalMerge(argv.slice(1), io);
  // train, eval and serve parse their own flags (lrp/cli/train.ts, eval.ts, serve.ts).
  const own = argv[0] === 'train' ? runTrain : argv[0] === 'eval' ? runEval : argv[0] === 'serve' ? runServe : null;
  if (own) {
    try {
      return await own(argv.slice(1), io);
    } catch (error) {
      const code = exitCodeFor(error);
      io.stderr.write(`${io.stderr.isTTY ? '\r\u001b[K' : ''}${describeFailure(error, code, debugRequested())}`);
      return code;
    }
  }
  let debug = false;
  try {
    debug = envFlag('LRP_DEBUG');
    const args: CliArgs = parseCli(argv);
    if (args.command === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return EXIT_OK;
    }
    args.model = resolveModelDir(args.model);
    return args.command === 'forward' ? await runForward(args, io) : await runExplain(args, io);
  } catch (error) {
    const code = exitCodeFor(error);
    // On a terminal, a load may have left a progress line: the message replaces it.
    io.stderr.write(`${io.stderr.isTTY ? '\r\u001b[K' : ''}${describeFailure(error, code, debug)}`);
    return code;
  }
}

