/**
 * docs/writing-rules.md, end to end: the example's new rule passes the harness, its composite runs
 * through explain() on a fixture model, and the CLI runs composites from --rules files (JSON, and a
 * JS module that imports the example's rule). Bad rules files exit with 2 and write nothing.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRelativeEpsilon, explainWithComposite } from '../examples/custom-rule.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { gpu } from './helpers/gpu.js';
import { modelDir, readReference } from './helpers/fixtures.js';
import { tempDir } from './helpers/tempdir.js';
import { runCli } from './helpers/cli.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
let model: TransformerModel;

beforeAll(async () => {
  await gpu();
  model = await loadModel(modelDir('gpt2'));
});

afterAll(() => model.dispose());

const cli = runCli;

describe('examples/custom-rule.ts', () => {
  it('the relative ε-rule: gradient form = LRP form, zeros and signs safe, its stabiliser absorbs a measured share', async () => {
    const report = await checkRelativeEpsilon(0.1);
    expect(report.failures).toEqual([]);
    expect(report.lrpExcess!).toBeLessThanOrEqual(0);
    expect(report.conservation.relativeError).toBeGreaterThan(1e-3);
    expect(report.conservation.relativeError).toBeLessThan(0.5);
  });

  it('without the floor, the harness finds the 0/0 of an all-zero row (the doc’s step 3)', async () => {
    const report = await checkRelativeEpsilon(0.1, 0);
    expect(report.failures).toEqual(['zeros: all-zero inputs give non-finite relevance']);
  });

  it('its composite runs through explain(): the rule on layer 1’s linears, AttnLRP elsewhere, a captured module', async () => {
    const e = await explainWithComposite(model, readReference('gpt2').input_ids![0]!);
    const rules = Object.fromEntries(e.details!.rules.map((r) => [`${r.op}/${r.rule}`, r.nodes]));
    expect(rules['linear/relative-epsilon(0.05)']).toBe(4);
    expect(rules['linear/epsilon(0.000001)']).toBe(5);
    expect(e.method).toBe('attnlrp+relative-epsilon(0.05)');
    expect(e.captured![0]!.path).toBe('layers.1.mlp');
    expect(e.tokens.every((t) => Number.isFinite(t.total))).toBe(true);
  });

  it('docs/writing-rules.md shows the example’s code', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'writing-rules.md'), 'utf8');
    const example = readFileSync(join(ROOT, 'examples', 'custom-rule.ts'), 'utf8');
    for (const line of [
      'export function relativeEpsilonRule(delta: number, floor = FLOOR): BackwardRule<OpAttrs[\'linear\']> {',
      '      const epsilonRow = scale(mean(abs(z), -1, true), delta, floor); // δ·mean|z| + floor, [..., 1]',
      '      return ctx.defaultBackward(mul(g, ratio));',
    ]) {
      expect(example).toContain(line);
      expect(doc).toContain(line);
    }
  });
});

describe('lrp explain --rules FILE', () => {
  const gpt2 = modelDir('gpt2');
  const ids = '4,34,20,22';

  it('a JSON composite: γ in layer 0, ε above; the method name is the file’s', async () => {
    const file = join(tempDir('lrp-rules-'), 'gamma-low.json');
    writeFileSync(file, JSON.stringify({
      name: 'gamma-low',
      base: 'attnlrp',
      modules: [{ match: 'layers.0', roles: { linear: { rule: 'gamma', gamma: 0.25 } } }],
    }));
    const { code, stdout, stderr } = await cli('explain', '--model', gpt2, '--ids', ids, '--rules', file);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const e = JSON.parse(stdout) as { method: string; tokens: { total: number }[] };
    expect(e.method).toBe('gamma-low');
    expect(e.tokens).toHaveLength(4);
  });

  it('a JS module whose default export uses the example’s own rule', async () => {
    const file = join(tempDir('lrp-rules-'), 'relative.mjs');
    const example = join(ROOT, 'examples', 'custom-rule.ts');
    writeFileSync(file, [
      `import { relativeEpsilonRule } from ${JSON.stringify(example)};`,
      `export default { name: 'relative', base: 'attnlrp', modules: [{ match: 'layers.1', roles: { linear: relativeEpsilonRule(0.05) } }] };`,
    ].join('\n'));
    const { code, stdout, stderr } = await cli('explain', '--model', gpt2, '--ids', ids, '--rules', file);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const viaCli = JSON.parse(stdout) as { method: string; tokens: { token: number }[] };
    expect(viaCli.method).toBe('relative');
  });

  const bad: [string, unknown, RegExp][] = [
    ['an unknown rule', { base: 'attnlrp', roles: { linear: 'gama' } }, /unknown rule "gama"/],
    ['an unknown op', { base: 'attnlrp', ops: { linaer: 'epsilon' } }, /unknown op "linaer" \(did you mean linear/],
    ['an unknown role', { modules: [{ match: 'layers.0', roles: { activations: 'identity' } }] }, /unknown role "activations"/],
    ['a parameter the rule does not take', { roles: { linear: { rule: 'epsilon', gamma: 1 } } }, /rule "epsilon" has no parameter "gamma"/],
    ['αβ with α − β ≠ 1', { roles: { linear: { rule: 'alpha-beta', alpha: 2, beta: 2 } } }, /α − β = 1/],
    ['a pattern that matches no module', { modules: [{ match: 'blocks.0', roles: { linear: 'gamma' } }] }, /"blocks.0" matches no module of this model \(its paths look like layers\.0/],
  ];
  for (const [label, desc, message] of bad) {
    it(`${label}: exit 2, nothing written`, async () => {
      const dir = tempDir('lrp-rules-bad-');
      const file = join(dir, 'rules.json');
      const out = join(dir, 'out.json');
      writeFileSync(file, JSON.stringify(desc));
      const { code, stdout, stderr } = await cli('explain', '--model', gpt2, '--ids', ids, '--rules', file, '--out', out);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
      expect(stdout).toBe('');
      expect(existsSync(out)).toBe(false);
    });
  }
});
