/**
 * Prints the conservation ledger (docs/rules.md, "Conservation") of every method for each model
 * directory given: the demo models (input: the first held-out example, target: its label) or the
 * test fixtures (input: the fixture's reference ids). Usage, after `npm run build`:
 *
 *   node dist/scripts/ledger.js models/* tests/fixtures/models/bert
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { explain } from '../lrp/explain.js';
import { METHOD_NAMES } from '../lrp/methods.js';
import type { ConservationLedger } from '../lrp/result.js';
import { loadModel } from '../nn/folder.js';
import type { ModelInput } from '../nn/models/types.js';

function inputOf(dir: string): { input: ModelInput; target?: number } {
  const heldout = join(dir, 'heldout.jsonl');
  if (existsSync(heldout)) {
    const first = JSON.parse(readFileSync(heldout, 'utf8').split('\n')[0]!) as { ids: number[]; label: number };
    return { input: { ids: [first.ids] }, target: first.label };
  }
  const reference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as { input_ids?: number[][]; pixel_values?: number[][][] };
  if (reference.pixel_values) {
    const image = reference.pixel_values;
    const shape: [number, number, number, number] = [1, image.length, image[0]!.length, image[0]![0]!.length];
    return { input: { pixelValues: { data: Float32Array.from(image.flat(2)), shape } } };
  }
  return { input: { ids: reference.input_ids! } };
}

const pct = (v: number, of: number): string => `${((100 * v) / Math.abs(of)).toFixed(1)}%`;

function line(name: string, method: string, output: number, l: ConservationLedger): string {
  const softmax = l.softmax.reduce((s, x) => s + x.lost, 0);
  return [
    name.padEnd(16),
    method.padEnd(8),
    `out ${output.toFixed(4).padStart(8)}`,
    `tokens ${pct(l.tokens, output).padStart(7)}`,
    `positions ${pct(l.positions, output).padStart(6)}`,
    `biases ${pct(l.biases, output).padStart(6)}`,
    `ε ${pct(l.stabilizers, output).padStart(5)}`,
    `softmax ${pct(softmax, output).padStart(6)} [${l.softmax.map((s) => pct(s.lost, output)).join(' ')}]`,
    `const PE ${pct(l.constantPositional, output).padStart(6)}`,
    `other ${pct(l.otherOps, output).padStart(6)}`,
    `remainder ${l.remainder.toExponential(1)}`,
  ].join(' | ');
}

for (const dir of process.argv.slice(2)) {
  const model = await loadModel(dir);
  try {
    const { input, target } = inputOf(dir);
    for (const method of METHOD_NAMES) {
      const e = await explain(model, input, { method, ...(target === undefined ? {} : { target }) });
      console.log(line(basename(dir), method, e.logit, e.conservation.ledger));
    }
  } finally {
    model.dispose();
  }
}
