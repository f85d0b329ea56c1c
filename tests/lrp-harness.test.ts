/**
 * The built-in rules for nonlinear ops through the rule harness: identity on activations, uniform
 * on a product of two variables, the detached norm scale, and the softmax rule (not conservative:
 * the harness measures its gap). Each LRP form is written from docs/rules.md in float64.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gelu, silu } from '../autograd/ops/elementwise.js';
import { rmsNorm } from '../autograd/ops/norm.js';
import { gatedProduct } from '../autograd/ops/products.js';
import { softmax } from '../autograd/ops/softmax.js';
import { checkRule } from '../lrp/harness.js';
import { identityRule } from '../lrp/rules/identity.js';
import { normScaleDetachedRule } from '../lrp/rules/normScale.js';
import { softmaxRule } from '../lrp/rules/softmax.js';
import { uniformRule } from '../lrp/rules/uniform.js';
import { gpu } from './helpers/gpu.js';

beforeAll(async () => {
  await gpu();
});

describe('built-in rules, checked by the harness', () => {
  it('identity on GELU and SiLU: R_x = R_y, exactly conservative', async () => {
    for (const [op, fn] of [['geluErf', gelu], ['silu', silu]] as const) {
      const report = await checkRule({ op, rule: identityRule, build: ([x]) => fn(x!), inputs: [{ shape: [3, 5], lo: -3, hi: 3 }], lrp: ({ relevance }) => [relevance] });
      expect(report.failures, op).toEqual([]);
    }
  });

  it('uniform on a product of two variables: each operand gets half', async () => {
    const report = await checkRule({
      op: 'gatedProduct',
      rule: uniformRule,
      build: ([a, b]) => gatedProduct(a!, b!),
      inputs: [{ shape: [4, 3] }, { shape: [4, 3] }],
      lrp: ({ relevance }) => [relevance.map((r) => r / 2), relevance.map((r) => r / 2)],
    });
    expect(report.failures).toEqual([]);
  });

  it('RMSNorm with the scale detached: R_x = R_y', async () => {
    const report = await checkRule({
      op: 'rmsNorm',
      rule: normScaleDetachedRule,
      build: ([x, w]) => rmsNorm(x!, w!, 1e-6),
      inputs: [{ shape: [3, 8] }, { shape: [8], variable: false }],
      lrp: ({ relevance }) => [relevance, null],
    });
    expect(report.failures).toEqual([]);
  });

  it('softmax rule: R_x = x ⊙ (R_s − s·ΣR_s) per row; the harness measures the gap it leaves', async () => {
    const [rows, n] = [3, 6];
    const report = await checkRule({
      op: 'softmax',
      rule: softmaxRule,
      build: ([x]) => softmax(x!),
      inputs: [{ shape: [rows, n], lo: -2, hi: 2 }],
      lrp: ({ inputs: [x], output: s, relevance: R }) => {
        const out = new Float64Array(rows * n);
        for (let r = 0; r < rows; r++) {
          let total = 0;
          for (let j = 0; j < n; j++) total += R[r * n + j]!;
          for (let j = 0; j < n; j++) out[r * n + j] = x![r * n + j]! * (R[r * n + j]! - s[r * n + j]! * total);
        }
        return [out];
      },
      conservation: 'report',
    });
    expect(report.failures).toEqual([]);
    expect(report.conservation.relativeError).toBeGreaterThan(1e-3);
  });

  it('the conservation check fails a non-conservative rule when exact conservation is asked', async () => {
    const report = await checkRule({ op: 'softmax', rule: softmaxRule, build: ([x]) => softmax(x!), inputs: [{ shape: [2, 5] }] });
    expect(report.failures.some((f) => f.startsWith('conservation'))).toBe(true);
  });
});
