/** Perturbation evaluation without a GPU: metrics, orders, shards, the JSONL reader, summaries, charts. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../kernels/errors.js';
import { readExamples, type DataLimits } from '../lrp/eval/data.js';
import type { RunSettings } from '../lrp/eval/files.js';
import { areas, fractions, perturbedCount, softmax, squaredDistance, trapezoid, type Curves } from '../lrp/eval/metrics.js';
import { lineChart } from '../lrp/eval/plots.js';
import type { ExampleResult } from '../lrp/eval/protocol.js';
import { createProgress } from '../lrp/eval/progress.js';
import { protocolOrder, randomScores, replacedMasks } from '../lrp/eval/ranking.js';
import { inShard, resolveShard } from '../lrp/eval/shard.js';
import { summarize } from '../lrp/eval/summary.js';
import { concreteReplaceOption, parseReplaceOption, resolveReplacement } from '../lrp/eval/tokens.js';
import { tempDir } from './helpers/tempdir.js';

describe('metrics', () => {
  it('trapezoid areas match hand-computed values', () => {
    const xs = fractions(4); // 0, .25, .5, .75, 1
    expect(xs).toEqual([0, 0.25, 0.5, 0.75, 1]);
    // Flat curve: area = value. Line y = x: area = 1/2. y = [1, 0, 0, 0, 0]: one triangle, 0.125.
    expect(trapezoid([0.7, 0.7, 0.7, 0.7, 0.7], xs)).toBeCloseTo(0.7, 15);
    expect(trapezoid(xs, xs)).toBeCloseTo(0.5, 15);
    expect(trapezoid([1, 0, 0, 0, 0], xs)).toBeCloseTo(0.125, 15);
    // 0.25 * ((1+3)/2 + (3+2)/2 + (2+0)/2 + (0+4)/2) = 0.25 * 7.5
    expect(trapezoid([1, 3, 2, 0, 4], xs)).toBeCloseTo(1.875, 15);
    expect(() => trapezoid([1, 2], xs)).toThrow();
  });

  it('counts perturbed tokens as ceil(fraction × length) without float round-up', () => {
    // 0.3 * 10 = 3.0000000000000004 in floats; the count must be 3.
    expect(Array.from({ length: 11 }, (_, k) => perturbedCount(k, 10, 10))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(Array.from({ length: 11 }, (_, k) => perturbedCount(k, 10, 4))).toEqual([0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4]);
  });

  it('softmax and the squared output distance', () => {
    const p = softmax([1, 2, 3]);
    const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
    expect(p[2]).toBeCloseTo(Math.exp(3) / z, 14);
    expect(softmax([1000, 1000])).toEqual([0.5, 0.5]);
    expect(squaredDistance([1, 2, 3], [1, 0, 6])).toBe(13);
  });

  it('areas: AUAC, AUPC, AU-MSE, MoRF, LeRF and the gap from their curves', () => {
    const xs = fractions(2);
    const c = (probability: number[], logit: number[], mse: number[]) => ({ probability, logit, mse });
    const curves: Curves = {
      generate: c([0, 0.5, 1], [0, 0, 0], [0, 0, 0]), // (0.25 + 0.75) / 2 = 0.5
      pruning: c([1, 1, 0], [0, 0, 0], [0, 2, 4]), // 0.5 + 0.25 = 0.75; mse 0.5 + 1.5 = 2
      morf: c([0, 0, 0], [4, 0, 0], [0, 0, 0]), // 1
      lerf: c([0, 0, 0], [4, 4, 0], [0, 0, 0]), // 2 + 1 = 3
    };
    expect(areas(curves, xs)).toEqual({ auac: 0.5, aupc: 0.75, auMse: 2, morf: 1, lerf: 3, gap: 2 });
  });
});

describe('orders and masks', () => {
  const scores = [0.5, -2, 3, 0, 1];
  const positions = [1, 2, 3, 4]; // position 0 is a special token

  it('each protocol orders the perturbable positions as the papers do', () => {
    expect(protocolOrder('generate', scores, positions)).toEqual([2, 4, 3, 1]);
    expect(protocolOrder('morf', scores, positions)).toEqual([2, 4, 3, 1]);
    expect(protocolOrder('lerf', scores, positions)).toEqual([1, 3, 4, 2]);
    expect(protocolOrder('pruning', scores, positions)).toEqual([3, 4, 1, 2]); // |s|: 2, 3, 0, 1
    expect(protocolOrder('morf', [0, 1, 1, 1], [0, 1, 2, 3])).toEqual([1, 2, 3, 0]); // ties keep position order
  });

  it('removal replaces the first n_k, generate restores them; special positions never change', () => {
    const order = [2, 4, 3, 1];
    const morf = replacedMasks('morf', order, 5, 4).map((m) => Array.from(m));
    expect(morf).toEqual([[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 0, 1], [0, 0, 1, 1, 1], [0, 1, 1, 1, 1]]);
    const generate = replacedMasks('generate', order, 5, 4).map((m) => Array.from(m));
    expect(generate).toEqual([[0, 1, 1, 1, 1], [0, 1, 0, 1, 1], [0, 1, 0, 1, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 0]]);
  });

  it('random scores depend on seed and example only', () => {
    expect(randomScores(0, 3, 6)).toEqual(randomScores(0, 3, 6));
    expect(randomScores(0, 3, 6)).not.toEqual(randomScores(0, 4, 6));
    expect(randomScores(1, 3, 6)).not.toEqual(randomScores(0, 3, 6));
    for (const v of randomScores(7, 1, 50)) expect(v >= 0 && v < 1).toBe(true);
  });
});

describe('shards', () => {
  it('--shard K/N, Slurm array variables and Kubernetes JOB_COMPLETION_INDEX', () => {
    expect(resolveShard('1/3', undefined, {})).toEqual({ index: 1, count: 3 });
    expect(resolveShard(undefined, undefined, {})).toEqual({ index: 0, count: 1 });
    expect(resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '4' })).toEqual({ index: 2, count: 4 });
    // `--array=1-4`: ids start at SLURM_ARRAY_TASK_MIN.
    expect(resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' })).toEqual({ index: 3, count: 4 });
    expect(resolveShard(undefined, '5', { JOB_COMPLETION_INDEX: '4' })).toEqual({ index: 4, count: 5 });
    // The flag wins over the environment.
    expect(resolveShard('0/2', undefined, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '2' })).toEqual({ index: 0, count: 2 });
    for (const bad of [() => resolveShard('3/3', undefined, {}), () => resolveShard('1-3', undefined, {}), () => resolveShard(undefined, undefined, { JOB_COMPLETION_INDEX: '0' }), () => resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '0' })]) {
      expect(bad).toThrow(InputError);
    }
    const owned = Array.from({ length: 7 }, (_, i) => i).filter((i) => inShard(i, { index: 1, count: 3 }));
    expect(owned).toEqual([1, 4]);
  });
});

describe('JSONL reader', () => {
  const limits: DataLimits = { vocabSize: 50, maxPositions: 8, classes: 3, tokenizer: () => Promise.reject(new Error('no tokenizer')) };
  const file = (text: string): string => {
    const path = join(tempDir('lrp-data-'), 'd.jsonl');
    writeFileSync(path, text);
    return path;
  };

  it('accepts ids or text with label or target, skips blank lines, ignores extra keys', async () => {
    const path = file('{"ids": [1, 2], "label": 2, "groundTruth": {"positions": [0]}}\n\n{"ids": [3], "target": 0, "text": "ignored when ids are given"}\n{"ids": [4, 5, 6]}\n');
    const examples = await readExamples(path, limits);
    expect(examples).toEqual([
      { index: 0, line: 1, ids: [1, 2], label: 2 },
      { index: 1, line: 3, ids: [3], label: 0 },
      { index: 2, line: 4, ids: [4, 5, 6] },
    ]);
  });

  it('names the line of a malformed or invalid example', async () => {
    const cases: [string, RegExp][] = [
      ['{"ids": [1]}\n{"ids": [1,\n', /d\.jsonl:2: not valid JSON/],
      ['{"ids": [1]}\n{"ids": [1]}\n{"ids": [60]}\n', /d\.jsonl:3: id 60 at position 0 is outside the vocabulary \(size 50\)/],
      ['{"ids": [1], "label": 3}\n', /d\.jsonl:1: label 3 must be an integer in \[0, 3\)/],
      ['{"ids": [1,2,3,4,5,6,7,8,9]}\n', /d\.jsonl:1: 9 tokens, more than max_position_embeddings/],
      ['[1, 2]\n', /d\.jsonl:1: expected a JSON object/],
      ['{"label": 1}\n', /d\.jsonl:1: needs "ids"/],
      ['\n  \n', /holds no examples/],
      ['', /holds no examples/],
    ];
    for (const [text, message] of cases) {
      const error = await readExamples(file(text), limits).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('a replacement token the model lacks is bad input', () => {
    expect(resolveReplacement('unk', { specialIds: new Set(), unk: 3 }, 50)).toEqual({ kind: 'id', id: 3 });
    expect(resolveReplacement('id:7', { specialIds: new Set() }, 50)).toEqual({ kind: 'id', id: 7 });
    expect(resolveReplacement('zero-embedding', { specialIds: new Set() }, 50)).toEqual({ kind: 'zero-embedding' });
    expect(() => resolveReplacement('mask', { specialIds: new Set() }, 50)).toThrow(/names no mask token/);
    expect(() => resolveReplacement('id:50', { specialIds: new Set() }, 50)).toThrow(/outside the vocabulary/);
    expect(() => parseReplaceOption('id:x')).toThrow(InputError);
  });

  it('--replace auto takes unk, else pad, else mask, else zero-embedding', () => {
    const none = new Set<number>();
    expect(concreteReplaceOption('auto', { specialIds: none, unk: 3, pad: 1 })).toBe('unk');
    expect(concreteReplaceOption('auto', { specialIds: none, pad: 1, mask: 2 })).toBe('pad');
    expect(concreteReplaceOption('auto', { specialIds: none, mask: 2 })).toBe('mask');
    expect(concreteReplaceOption('auto', { specialIds: none })).toBe('zero-embedding');
    expect(concreteReplaceOption('id:4', { specialIds: none, unk: 3 })).toBe('id:4');
  });
});

describe('summary and charts', () => {
  const settings: RunSettings = {
    methods: ['gi', 'random'],
    steps: 1,
    replace: 'unk',
    rankBy: 'token',
    positionAggregation: 'signed',
    all: false,
    seed: 0,
    model: { name: 'm', sha256: 'x' },
    data: { name: 'd', sha256: 'y', examples: 3 },
  };
  const curve = (p: number[]) => ({ probability: p, logit: p.map((v) => 10 * v), mse: p.map((v) => v * v) });
  const result = (index: number, p: number[]): ExampleResult => {
    const curves = { generate: curve(p), pruning: curve(p), morf: curve(p), lerf: curve(p) };
    const a = areas(curves, [0, 1]);
    return { index, line: index + 1, tokens: 2, perturbable: 2, label: 0, predicted: 0, correct: true, methods: { gi: { curves, areas: a }, random: { curves, areas: a } } };
  };

  it('means over evaluated examples, in example order whatever the input order', () => {
    const skipped: ExampleResult = { index: 1, line: 2, tokens: 2, perturbable: 2, label: 1, predicted: 0, correct: false, skipped: 'misclassified' };
    const a = summarize(settings, [{ index: 0, count: 1 }], [result(2, [0.2, 0.4]), skipped, result(0, [1, 0])], 3);
    const b = summarize(settings, [{ index: 0, count: 1 }], [result(0, [1, 0]), skipped, result(2, [0.2, 0.4])], 3);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.complete).toBe(true);
    expect(a.examples).toEqual({ seen: 3, evaluated: 2, misclassified: 1, noPerturbableTokens: 0 });
    expect(a.accuracy).toBeCloseTo(2 / 3, 15);
    expect(a.methods.gi!.curves.generate.probability).toEqual([0.6, 0.2]);
    // AUAC per example: 0.5 and 0.3; mean 0.4, sem = sd/√2 = 0.1414.../√2 = 0.1.
    expect(a.methods.gi!.areas.auac.mean).toBeCloseTo(0.4, 15);
    expect(a.methods.gi!.areas.auac.sem).toBeCloseTo(0.1, 15);
  });

  it('a chart has a title, labelled axes and a legend entry per method', () => {
    const svg = lineChart({ title: 'T <1>', xLabel: 'fraction', yLabel: 'probability', xs: [0, 0.5, 1], series: [{ name: 'gi', values: [0, 0.5, 1] }, { name: 'random', values: [1, 0.5, 0] }] });
    expect(svg).toContain('T &lt;1&gt;');
    expect(svg).toContain('>fraction</text>');
    expect(svg).toContain('>probability</text>');
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('>gi</text>');
    expect(svg).toContain('>random</text>');
  });
});

describe('chart axes', () => {
  it('the y axis covers every value (the top and bottom ticks enclose the data)', () => {
    const svg = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', xs: [0, 1], series: [{ name: 'gi', values: [0.99, -1.1] }] });
    const labels = [...svg.matchAll(/text-anchor="end">([^<]+)</g)].map((m) => Number(m[1]));
    expect(Math.min(...labels)).toBeLessThanOrEqual(-1.1);
    expect(Math.max(...labels)).toBeGreaterThanOrEqual(0.99);
    // Every point lies inside the plot rectangle.
    const rect = /<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)" fill="none"/.exec(svg)!.slice(1).map(Number) as [number, number, number, number];
    for (const m of svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)) {
      expect(Number(m[2])).toBeGreaterThanOrEqual(rect[1]);
      expect(Number(m[2])).toBeLessThanOrEqual(rect[1] + rect[3]);
    }
  });
});

describe('progress', () => {
  it('off a terminal: one plain line per example, counting from the resumed position', () => {
    let text = '';
    const progress = createProgress({ write: (s: string) => (text += s), isTTY: false }, 10, 4, 'eval-perturbation');
    progress.tick();
    progress.tick('misclassified');
    progress.stop();
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^eval-perturbation: 5\/10 examples, [\d.]+ ex\/s, ETA \d+ s$/);
    expect(lines[1]).toMatch(/^eval-perturbation: 6\/10 examples, .* \(misclassified\)$/);
    expect(text).not.toContain('\u001b'); // no terminal control codes in logs
  });
});
