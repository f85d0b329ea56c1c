/**
 * Open methods: module paths, composites (rules per layer / module path), custom MethodSpecs,
 * relevance captured at intermediate modules, and the position-axis hook of positional taps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../autograd/tensor.js';
import { composite, globToRegExp, layerRange, modulePredicate } from '../lrp/composites.js';
import { explain } from '../lrp/explain.js';
import { unexplainedFraction } from '../lrp/conservation.js';
import { attnLrpGamma, methodSpec, type MethodSpec } from '../lrp/methods.js';
import { flatten } from './helpers/fixtures.js';
import { relevancePerPosition } from '../lrp/positions.js';
import { epsilonRule } from '../lrp/rules/epsilon.js';
import { gammaRule } from '../lrp/rules/gamma.js';
import type { Explanation } from '../lrp/result.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { runtime } from '../kernels/runtime.js';
import { gpu } from './helpers/gpu.js';
import { modelDir, readReference } from './helpers/fixtures.js';

const models = new Map<string, TransformerModel>();

beforeAll(async () => {
  await gpu();
  for (const name of ['gpt2-nobias', 'llama', 'vit']) models.set(name, await loadModel(modelDir(name)));
});

afterAll(() => {
  for (const m of models.values()) m.dispose();
});

const run = (name: string, method: Parameters<typeof explain>[2]['method'], extra: Partial<Parameters<typeof explain>[2]> = {}): Promise<Explanation> =>
  explain(models.get(name)!, { ids: readReference(name).input_ids! }, { method, ...extra });

const rulesOf = (e: Explanation): Record<string, number> => Object.fromEntries(e.details!.rules.map((r) => [`${r.op}/${r.rule}`, r.nodes]));
const sumOf = (v: number[]): number => v.reduce((a, b) => a + b, 0);

describe('module path patterns', () => {
  it('globs: * one segment, ** any, {a..b} ranges, {a,b} alternatives; ancestors match too', () => {
    expect(globToRegExp('layers.{0..3}').test('.layers.3')).toBe(true);
    expect(globToRegExp('layers.{0..3}').test('.layers.4')).toBe(false);
    expect(globToRegExp('layers.{0..3}').test('.layers.13')).toBe(false);
    const cases: [string, string, boolean][] = [
      ['layers.{0..3}', 'layers.2.mlp.down_proj', true],
      ['layers.{0..3}', 'layers.10.mlp', false],
      ['layers.*.mlp', 'layers.7.mlp.c_fc', true],
      ['layers.*.mlp', 'layers.7.attn', false],
      ['**.q_proj', 'layers.0.self_attn.q_proj', true],
      ['**.q_proj', 'layers.0.self_attn.k_proj', false],
      ['layers.{attn,mlp}', 'layers.mlp', true],
      ['layers.1', 'layers.10', false],
    ];
    for (const [glob, path, expected] of cases) expect(modulePredicate(glob)(path), `${glob} on ${path}`).toBe(expected);
    expect(layerRange(0, 3)('layers.3.mlp')).toBe(true);
    expect(layerRange(0, 3)('layers.4')).toBe(false);
    expect(modulePredicate(/mlp\.c_fc$/)('layers.0.mlp.c_fc')).toBe(true);
  });

  it('module paths are family-independent below the block: layers.<i>.<HF name>', () => {
    const gpt2 = models.get('gpt2-nobias')!.modulePaths();
    expect(gpt2).toContain('layers.1.mlp.c_fc');
    expect(gpt2).toContain('layers.0.attn.c_attn');
    expect(gpt2).toContain('transformer.ln_f');
    const llama = models.get('llama')!.modulePaths();
    expect(llama).toContain('layers.0.self_attn.q_proj');
    expect(llama).toContain('layers.1.mlp');
  });
});

describe('composites', () => {
  it('γ in layer 0 and ε above: each linear gets its layer’s rule', async () => {
    const method = composite('attnlrp', [{ match: 'layers.0', roles: { linear: gammaRule(0.25) } }], { name: 'gamma-low' });
    const e = await run('gpt2-nobias', method);
    expect(e.method).toBe('gamma-low');
    const rules = rulesOf(e);
    // Layer 0: c_attn, attn.c_proj, c_fc, mlp.c_proj. Above: the same four in layer 1 and the LM head.
    expect(rules['linear/gamma(0.25)']).toBe(4);
    expect(rules['linear/epsilon(0.000001)']).toBe(5);
  });

  it('a composite of conservative rules conserves: CP-LRP with γ on layer 1’s linears, bias-free GPT-2', async () => {
    const plain = await run('gpt2-nobias', 'cp-lrp');
    const method = composite('cp-lrp', [{ match: 'layers.1', roles: { linear: gammaRule(0.5) } }]);
    const e = await run('gpt2-nobias', method);
    expect(rulesOf(e)['linear/gamma(0.5)']).toBe(4);
    // Conserves: nothing but rounding fails to reach an input or a bias.
    expect(unexplainedFraction(e.conservation)).toBeLessThan(1e-4);
    const moved = sumOf(e.tokens.map((t, i) => Math.abs(t.total - plain.tokens[i]!.total)));
    expect(moved).toBeGreaterThan(1e-3 * Math.abs(e.logit));
  });

  it('ε per layer: the first matching entry wins, ops outside every entry keep the base rule', async () => {
    const method = composite('attnlrp', [
      { match: 'layers.1.mlp', roles: { linear: epsilonRule(0.5) } },
      { match: 'layers.1', roles: { linear: epsilonRule(0.01) } },
    ]);
    const rules = rulesOf(await run('gpt2-nobias', method));
    expect(rules['linear/epsilon(0.5)']).toBe(2);
    expect(rules['linear/epsilon(0.01)']).toBe(2);
    expect(rules['linear/epsilon(0.000001)']).toBe(5);
  });

  it('a custom MethodSpec with op-name rules runs through explain()', async () => {
    const spec: MethodSpec = { ...methodSpec('cp-lrp'), name: 'cp-lrp-no-gate-detach', ops: {} };
    const e = await run('llama', spec);
    expect(e.method).toBe('cp-lrp-no-gate-detach');
    expect(rulesOf(e)['gatedProduct/gate-detached']).toBeUndefined();
    expect(rulesOf(e)['softmax/attention-detached']).toBe(2);
  });
});

describe('AttnLRP with γ for vision models', () => {
  it('ViT: every recorded linear (attention, MLP, classifier) follows the sign-aware γ', async () => {
    const ref = readReference('vit');
    const [c, h, w] = [ref.pixel_values!.length, ref.pixel_values![0]!.length, ref.pixel_values![0]![0]!.length];
    const input = { pixelValues: { data: Float32Array.from(flatten(ref.pixel_values)), shape: [1, c, h, w] as [number, number, number, number] } };
    const e = await explain(models.get('vit')!, input, { method: attnLrpGamma(0.25) });
    const rules = rulesOf(e);
    // 2 blocks × (q, k, v, o, fc, proj) + classifier. The patch projection runs before the token
    // tap, on constants, so it is not part of the graph (relevance stops at the patch embeddings).
    expect(rules['linear/signed-gamma(0.25)']).toBe(13);
    expect(Object.keys(rules).filter((k) => k.startsWith('linear/'))).toEqual(['linear/signed-gamma(0.25)']);
    expect(e.tokens.every((t) => Number.isFinite(t.total))).toBe(true);
    const plain = await explain(models.get('vit')!, input, { method: 'attnlrp' });
    expect(e.tokens.some((t, i) => Math.abs(t.total - plain.tokens[i]!.total) > 1e-6)).toBe(true);
  });
});

describe('relevance anywhere (capture)', () => {
  it('block and module outputs: shapes, totals equal the layer report, and CP-LRP conserves down to layers.1', async () => {
    const before = runtime().memory().liveBytes;
    const e = await run('gpt2-nobias', 'cp-lrp', { capture: ['layers.1', 'layers.0.mlp', 'layers.1'] });
    expect(runtime().memory().liveBytes).toBe(before);
    const [top, mlp] = e.captured!;
    const T = e.tokens.length;
    expect(top!.path).toBe('layers.1');
    expect(top!.shape).toEqual([1, T, 32]);
    expect(top!.relevance).toHaveLength(T * 32);
    const layer1 = e.layers.find((l) => l.name === 'layers.1')!;
    expect(top!.total).toBeCloseTo(layer1.in, 5);
    // Above layers.1: a LayerNorm with its scale detached and a bias-free head: all of the logit arrives.
    expect(top!.total).toBeCloseTo(e.logit, 4);
    expect(mlp!.path).toBe('layers.0.mlp');
    expect(Math.abs(mlp!.total)).toBeGreaterThan(0);
  });

  it('a module and its last child share one output tensor: both captured, freed once', async () => {
    const before = runtime().memory().liveBytes;
    const e = await run('gpt2-nobias', 'attnlrp', { capture: ['layers.0.mlp', 'layers.0.mlp.c_proj', 'layers.0.mlp.c_fc'] });
    expect(runtime().memory().liveBytes).toBe(before);
    const [mlp, proj, fc] = e.captured!;
    expect(proj!.relevance).toEqual(mlp!.relevance);
    expect(fc!.shape).toEqual([1, e.tokens.length, 128]);
  });

  it('an unknown module path is an error that names close paths', async () => {
    await expect(run('gpt2-nobias', 'cp-lrp', { capture: ['layers.0.mlp.fc'] })).rejects.toThrow(/no module "layers.0.mlp.fc" \(e\.g\. layers\.0/);
  });
});

describe('positional tensors declare their position axis', () => {
  it('relevance per position sums every axis but the declared one', async () => {
    // [H = 2, T = 3, S = 3] with positions on the last (key) axis, as an ALiBi-style bias would be.
    const data = Array.from({ length: 18 }, (_, i) => (i % 5) - 2);
    const grad = Array.from({ length: 18 }, (_, i) => ((i * 7) % 3) - 1);
    const x = Tensor.fromArray(data, [2, 3, 3]).setRequiresGrad();
    x.grad = Tensor.fromArray(grad, [2, 3, 3]);
    const expected = [0, 1, 2].map((s) => sumOf(data.map((v, i) => (i % 3 === s ? v * grad[i]! : 0))));
    const byKey = relevancePerPosition(x, { positionAxis: -1 })!;
    expect(Array.from(await byKey.toArray())).toEqual(expected);
    const byDefault = relevancePerPosition(x)!;
    const expectedRows = [0, 1, 2].map((t) => sumOf(data.map((v, i) => (Math.floor(i / 3) % 3 === t ? v * grad[i]! : 0))));
    expect(Array.from(await byDefault.toArray())).toEqual(expectedRows);
    for (const t of [byKey, byDefault, x]) t.dispose();
  });
});
