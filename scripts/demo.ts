/**
 * The README's main job: one held-out example of each shipped demo model, explained with PA-LRP,
 * printed as a terminal heatmap (token and position relevance) beside the task's ground truth,
 * with an HTML report per model written to demo-output/ (or --out DIR).
 *
 *   node dist/scripts/demo.js [--out DIR] [--method pa-lrp]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initRuntime } from '../kernels/dawn.js';
import { loadModel } from '../nn/folder.js';
import { loadTokenizer } from '../nn/folder.js';
import { TASKS } from '../nn/train/tasks/index.js';
import { demoModelDir, packageRoot } from '../lrp/cli/paths.js';
import { readHeldout } from '../lrp/eval/heldout.js';
import { explain } from '../lrp/explain.js';
import { isMethodName } from '../lrp/methods.js';
import type { MethodName } from '../lrp/result.js';
import { renderAnsi, renderHtml } from '../lrp/render/index.js';
import { CHILD_ENV, runFiltered } from '../lrp/cli/dawnWarnings.js';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({ options: { out: { type: 'string' }, method: { type: 'string' } } });
const methodArg = values.method ?? 'pa-lrp';
if (!isMethodName(methodArg)) throw new Error(`unknown method ${methodArg}`);
const method: MethodName = methodArg;
const outDir = resolve(values.out ?? join(packageRoot(), 'demo-output'));
const color = process.stdout.isTTY === true;
const bold = (s: string): string => (color ? `\x1b[1m${s}\x1b[0m` : s);

async function demo(): Promise<void> {
  await initRuntime();
  await mkdir(outDir, { recursive: true });
  const started = performance.now();
  for (const task of TASKS) {
    const dir = demoModelDir(task.name);
    const [model, tokenizer, heldout] = await Promise.all([loadModel(dir), loadTokenizer(dir), readHeldout(dir)]);
    try {
      // The first example with the most ground-truth positions: for sentiment, one with a negation.
      const example = heldout.reduce((best, e) => (e.groundTruth.positions.length > best.groundTruth.positions.length ? e : best));
      const texts = example.ids.map((id) => tokenizer.tokenText(id));
      const e = await explain(model, { ids: [example.ids] }, { method, target: example.label, tokenTexts: texts });
      const answer = model.info.labels?.[example.label] ?? tokenizer.tokenText(example.label);
      const truth = example.groundTruth.positions.map((p) => `${p} ("${texts[p]}")`).join(', ');
      process.stdout.write(`\n${bold(`── ${task.name}: ${model.info.architecture}, ${model.info.positional} positions ──`)}\n`);
      process.stdout.write(`task: ${task.description}\n`);
      process.stdout.write(`input: "${example.text}"  →  answer "${answer}"\n`);
      process.stdout.write(`ground truth: position ${truth}; evidence: ${example.groundTruth.evidence}\n\n`);
      process.stdout.write(`${renderAnsi(e, { color })}\n`);
      const html = join(outDir, `${task.name}.html`);
      await writeFile(html, renderHtml(e));
      process.stdout.write(`HTML report: ${html}\n`);
    } finally {
      model.dispose();
    }
  }
  process.stdout.write(`\n${TASKS.length} demo models explained with ${method} in ${((performance.now() - started) / 1000).toFixed(1)} s. Score every method against the ground truth: npx lrp eval --task NAME\n`);
}

// Like the lrp command: run as a child whose stderr drops Dawn's two start-up notices.
if (process.env[CHILD_ENV] === undefined && process.env.LRP_DAWN_WARNINGS !== '1') {
  process.exitCode = await runFiltered(fileURLToPath(import.meta.url), process.argv.slice(2));
} else {
  await demo();
}
