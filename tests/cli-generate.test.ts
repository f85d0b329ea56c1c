/**
 * `lrp explain --generate N` (issue 14): the generation JSON contract equals the library's
 * explainGeneration(), the figures draw one row per generated token, and every misuse (a bad N,
 * options that name one prediction, a classifier, a sequence beyond the positions) exits 2 with
 * nothing on stdout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainGeneration, type GenerationExplanation } from '../lrp/generate.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { runCli } from './helpers/cli.js';
import { modelDir } from './helpers/fixtures.js';
import { gpu } from './helpers/gpu.js';
import { xmlProblem } from './helpers/xml.js';

const gpt2 = modelDir('gpt2');
const base = ['explain', '--model', gpt2, '--ids', '5,9,14,3'];
let model: TransformerModel;
let library: GenerationExplanation;

beforeAll(async () => {
  await gpu();
  model = await loadModel(gpt2);
  library = await explainGeneration(model, { ids: [[5, 9, 14, 3]] }, { method: 'attnlrp', maxNewTokens: 3 });
});

afterAll(() => model.dispose());

interface GenerationJson {
  method: string;
  generation: {
    prompt: { index: number; id: number; text: string }[];
    generated: { index: number; id: number; text: string }[];
    steps: { target: number; targetText?: string; logit: number; tokens: { id: number; total: number }[]; conservation: { output: number; relativeError: number } }[];
  };
}

describe('lrp explain --generate', () => {
  it('writes the generation contract: prompt, generated tokens, one explanation per step', async () => {
    const { code, stdout, stderr } = await runCli(...base, '--method', 'attnlrp', '--generate', '3');
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as GenerationJson;
    expect(Object.keys(out)).toEqual(['method', 'generation']);
    expect(out.method).toBe('attnlrp');
    const g = out.generation;
    expect(g.prompt.map((t) => t.id)).toEqual([5, 9, 14, 3]);
    expect(g.generated.map((t) => t.id)).toEqual(library.generated.map((t) => t.id));
    expect(g.generated.map((t) => t.index)).toEqual([4, 5, 6]);
    expect(g.generated[0]!.text).toBe(model.tokenizer!.tokenText(g.generated[0]!.id));
    expect(g.steps).toHaveLength(3);
    g.steps.forEach((step, k) => {
      expect(step.target).toBe(g.generated[k]!.id);
      expect(step.tokens.map((t) => t.id)).toEqual([5, 9, 14, 3, ...g.generated.slice(0, k).map((t) => t.id)]);
      // The same computation as the library's, so the same numbers.
      expect(step.tokens.map((t) => t.total)).toEqual(library.steps[k]!.tokens.map((t) => t.total));
      expect(step.conservation.output).toBe(library.steps[k]!.conservation.output);
      expect(step.conservation.relativeError).toBeLessThan(1e-4);
      // Single-explanation keys, in the single contract's order (no details).
      expect(Object.keys(step)).toEqual(['method', 'target', ...(step.targetText === undefined ? [] : ['targetText']), 'logit', 'tokens', 'conservation', 'layers']);
    });
    // Not a terminal: progress as plain lines, one per unit of work (2 forwards + 3 backwards + 1 generation forward).
    expect(stderr.trim().split('\n')).toHaveLength(6);
    expect(stderr).toMatch(/^generate: 1\/6 steps/);
  });

  it('draws one row per generated token in SVG, HTML and the terminal', async () => {
    const svg = await runCli(...base, '--method', 'cp-lrp', '--generate', '3', '--format', 'svg', '--numbers');
    expect(svg.code).toBe(0);
    expect(xmlProblem(svg.stdout)).toBeNull();
    // The explained token outlined on the diagonal of each row; prefix cells 4 + 5 + 6 with numbers.
    expect(svg.stdout.match(/stroke="#6a1b9a" stroke-width="1.5"/g)).toHaveLength(3);
    expect(svg.stdout.match(/font-size="9" text-anchor="middle"/g)).toHaveLength(4 + 5 + 6);
    expect(svg.stdout).toContain('generation explained with cp-lrp · 3 new tokens');
    const html = await runCli(...base, '--method', 'cp-lrp', '--generate', '2', '--format', 'html', '--scale', 'max');
    expect(html.code).toBe(0);
    expect(html.stdout).toMatch(/^<!doctype html>/);
    expect(html.stdout).not.toContain('<?xml');
    expect(html.stdout).toContain("Colour: ±the row&#39;s max |R|.");
    expect(html.stdout.match(/<tr><td>\d+<\/td>/g)).toHaveLength(2);
    const ansi = await runCli(...base, '--method', 'gi', '--generate', '2', '--format', 'ansi');
    expect(ansi.code).toBe(0);
    expect(ansi.stdout).toContain('generation explained with gi · 2 new tokens');
    expect(ansi.stdout.match(/^\d → /gm)).toHaveLength(2);
  });

  it('refuses bad values and options that name one prediction (exit 2, nothing on stdout)', async () => {
    const cases: [string[], RegExp][] = [
      [['--generate', '0'], /--generate: give at least 1 token/],
      [['--generate', '-1'], /--generate/],
      [['--generate', 'two'], /--generate: "two" is not a non-negative integer/],
      [['--generate', '1.5'], /--generate: "1.5" is not a non-negative integer/],
      [['--generate', '2', '--target', '3'], /--generate does not take --target/],
      [['--generate', '2', '--contrast', '3'], /--generate does not take --contrast/],
      [['--generate', '2', '--format', 'tex'], /--format must be json, ansi, html or svg, not tex/],
      [['--generate', '2', '--format', 'svg', '--words'], /--generate does not take --words/],
      [['--generate', '2', '--generate', '3'], /--generate is given 2 times/],
      // 4 prompt tokens + 30 new need 33 positions; the fixture has 32.
      [['--generate', '30'], /need 33 positions, more than max_position_embeddings \(32\)/],
    ];
    for (const [extra, message] of cases) {
      const { code, stdout, stderr } = await runCli(...base, '--method', 'gi', ...extra);
      expect(code, extra.join(' ')).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(message);
    }
    const several = await runCli(...base, '--method', 'gi,cp-lrp', '--format', 'svg', '--generate', '2');
    expect([several.code, several.stderr]).toEqual([2, expect.stringMatching(/one method at a time/)]);
    const forward = await runCli('forward', '--model', gpt2, '--ids', '1,2', '--generate', '2');
    expect([forward.code, forward.stderr]).toEqual([2, expect.stringMatching(/forward does not take --generate/)]);
  });

  it('--assert-conservation applies to every step: AttnLRP\'s softmax losses fail a zero tolerance (exit 1, nothing written)', async () => {
    const { code, stdout, stderr } = await runCli(...base, '--method', 'attnlrp', '--generate', '2', '--assert-conservation', '0');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/lrp: conservation: unexplained share .* exceeds --assert-conservation 0 \(generated token 0\)/);
    const loose = await runCli(...base, '--method', 'attnlrp', '--generate', '2', '--assert-conservation', '10');
    expect(loose.code).toBe(0);
  });

  it('refuses a classifier', async () => {
    const { code, stdout, stderr } = await runCli('explain', '--model', modelDir('bert'), '--ids', '1,2,3', '--method', 'gi', '--generate', '2');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^lrp: explainGeneration: BertForSequenceClassification is a classifier, not a causal language model; only causal LMs generate/);
  });
});
