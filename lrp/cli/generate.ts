/**
 * `lrp explain --generate N`: greedy generation of N tokens, each explained over the prompt and
 * the tokens generated before it (lrp/generate.ts), written as the `generation` JSON contract or
 * drawn as a matrix (one row per generated token). Progress per generation forward and per
 * explained step: a bar on a terminal, a line each otherwise.
 */
import { ComputationError } from '../../kernels/errors.js';
import type { TransformerModel } from '../../nn/models/types.js';
import { unexplainedFraction } from '../conservation.js';
import { createProgress } from '../eval/progress.js';
import type { ExplainInput } from '../explain.js';
import { explainGeneration, type GenerationExplanation, type GenerationOptions } from '../generate.js';
import type { MethodSpec } from '../methods.js';
import { renderGenerationAnsi, renderGenerationHtml, renderGenerationSvg } from '../render/generation.js';
import type { MethodName } from '../result.js';
import type { ExplainArgs } from './args.js';
import { generationContract } from './contract.js';
import { EXIT_OK, type Io } from './failures.js';
import { STDOUT_PATH, writeOut } from './output.js';

function render(g: GenerationExplanation, args: ExplainArgs, io: Io): string {
  const figure = { scale: args.figure.scale, numbers: args.figure.numbers };
  switch (args.format) {
    case 'ansi':
      return renderGenerationAnsi(g, { color: io.stdout.isTTY === true });
    case 'html':
      return renderGenerationHtml(g, figure);
    case 'svg':
      return renderGenerationSvg(g, figure);
    default:
      return `${JSON.stringify(generationContract(g), null, 2)}\n`;
  }
}

/** Runs `lrp explain --generate N` on a loaded model; writes the output only once every step succeeded. */
export async function runGenerate(args: ExplainArgs & { generate: number }, model: TransformerModel, method: MethodName | MethodSpec, io: Io): Promise<number> {
  const prompt: ExplainInput = args.text !== undefined ? { text: args.text } : { ids: [args.ids ?? []] };
  // Units: N − 1 generation forwards, the explaining forward, N backwards.
  const progress = createProgress(io.stderr, 2 * args.generate, 0, 'generate', 'steps');
  const options: GenerationOptions = { method, maxNewTokens: args.generate, positionAggregation: args.positionAggregation, onProgress: () => progress.tick() };
  if (args.epsilon !== undefined) options.epsilon = args.epsilon;
  let g: GenerationExplanation;
  try {
    g = await explainGeneration(model, prompt, options);
  } finally {
    progress.stop();
  }
  // Checked before anything is written, per step, as for a single explanation.
  if (args.assertConservation !== undefined) {
    g.steps.forEach((step, k) => {
      const unexplained = unexplainedFraction(step.conservation);
      if (!(unexplained <= args.assertConservation!)) {
        throw new ComputationError(`conservation: unexplained share ${unexplained.toExponential(3)} exceeds --assert-conservation ${args.assertConservation} (generated token ${k})`);
      }
    });
  }
  const text = render(g, args, io);
  if (args.out === undefined || STDOUT_PATH.test(args.out)) io.stdout.write(text);
  else await writeOut(args.out, text, { followSymlinks: args.followSymlinks });
  return EXIT_OK;
}
