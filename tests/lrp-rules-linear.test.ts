/**
 * The rules for linear layers (γ, sign-aware γ, αβ, z⁺, ε) through the rule harness: each rule's
 * gradient form (GPU, f32) against its LRP form written out contribution by contribution in
 * float64 here, conservation (bias shares counted), zeros and signs. The harness itself is shown
 * to fail on rules that are wrong.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { BackwardRule } from '../autograd/graph.js';
import type { OpAttrs } from '../autograd/opTypes.js';
import { geluTanh, scale, stabilizedDiv } from '../autograd/ops/elementwise.js';
import { linear } from '../autograd/ops/matmul.js';
import { checkRule, type LrpFormArgs, type RuleCase } from '../lrp/harness.js';
import { alphaBetaRule, zPlusRule } from '../lrp/rules/alphaBeta.js';
import { epsilonRule } from '../lrp/rules/epsilon.js';
import { gammaRule, signedGammaRule } from '../lrp/rules/gamma.js';
import { identityRule } from '../lrp/rules/identity.js';
import { gpu } from './helpers/gpu.js';

beforeAll(async () => {
  await gpu();
});

const [N, IN, OUT] = [3, 6, 4];
const EPS = 1e-6;
const sgn = (v: number): number => (v >= 0 ? 1 : -1);

/**
 * The LRP form of a linear rule from its modified contributions: R_i = Σ_j c'_ij R_j ⊘ d_j and
 * the bias share Σ_rows b'_j R_j ⊘ d_j, with c' and d given per (row, j) by `modify`.
 */
function linearLrp(
  modify: (c: number[], b: number, z: number) => { c: number[]; b: number; denominator: number },
): (a: LrpFormArgs) => (Float64Array | null)[] {
  return ({ inputs: [x, W, b], relevance: R }) => {
    const Rx = new Float64Array(N * IN);
    const Rb = new Float64Array(OUT);
    for (let r = 0; r < N; r++) {
      for (let j = 0; j < OUT; j++) {
        const c = Array.from({ length: IN }, (_, i) => x![r * IN + i]! * W![j * IN + i]!);
        const z = c.reduce((s, v) => s + v, 0) + b![j]!;
        const m = modify(c, b![j]!, z);
        const Rj = R[r * OUT + j]!;
        for (let i = 0; i < IN; i++) Rx[r * IN + i]! += (m.c[i]! * Rj) / m.denominator;
        Rb[j]! += (m.b * Rj) / m.denominator;
      }
    }
    return [Rx, null, Rb];
  };
}

const stabilised = (d: number): number => d + EPS * sgn(d);

function linearCase(rule: BackwardRule<OpAttrs['linear']>, lrp: RuleCase<'linear'>['lrp'], seed: number): RuleCase<'linear'> {
  return {
    op: 'linear',
    rule,
    build: ([x, w, b]) => linear(x!, w!, b!),
    inputs: [{ shape: [N, IN] }, { shape: [OUT, IN], variable: false }, { shape: [OUT], lo: -0.3, hi: 0.3 }],
    lrp,
    seed,
  };
}

describe('rules for linear layers, checked by the harness', () => {
  it('LRP-γ: W + γW⁺ and b + γb⁺, conserving with the bias share', async () => {
    const gamma = 0.25;
    const report = await checkRule(
      linearCase(
        gammaRule(gamma),
        ({ inputs: [x, W, b], relevance: R }) => {
          const Rx = new Float64Array(N * IN);
          const Rb = new Float64Array(OUT);
          for (let r = 0; r < N; r++) {
            for (let j = 0; j < OUT; j++) {
              const w = (i: number): number => W![j * IN + i]! + gamma * Math.max(W![j * IN + i]!, 0);
              const bj = b![j]! + gamma * Math.max(b![j]!, 0);
              let zMod = bj;
              for (let i = 0; i < IN; i++) zMod += x![r * IN + i]! * w(i);
              const share = R[r * OUT + j]! / stabilised(zMod);
              for (let i = 0; i < IN; i++) Rx[r * IN + i]! += x![r * IN + i]! * w(i) * share;
              Rb[j]! += bj * share;
            }
          }
          return [Rx, null, Rb];
        },
        11,
      ),
    );
    expect(report.failures).toEqual([]);
    expect(report.lrpExcess!).toBeLessThanOrEqual(0);
    expect(report.conservation.relativeError).toBeLessThan(1e-4);
  });

  it('sign-aware γ: contributions agreeing in sign with z_j amplified by 1 + γ', async () => {
    const gamma = 0.5;
    const lrp = linearLrp((c, b, z) => {
      const agree = (v: number): number => (v * sgn(z) > 0 ? 1 + gamma : 1);
      const cMod = c.map((v) => v * agree(v));
      const bMod = b * agree(b);
      return { c: cMod, b: bMod, denominator: stabilised(cMod.reduce((s, v) => s + v, 0) + bMod) };
    });
    const report = await checkRule(linearCase(signedGammaRule(gamma), lrp, 12));
    expect(report.failures).toEqual([]);
    expect(report.conservation.relativeError).toBeLessThan(1e-4);
  });

  for (const [alpha, beta, rule] of [
    [2, 1, alphaBetaRule(2, 1)],
    [1, 0, zPlusRule()],
  ] as const) {
    it(`α${alpha}β${beta}: positive and negative contributions normalised apart`, async () => {
      const lrp = linearLrp((c, b) => {
        const pos = c.reduce((s, v) => s + Math.max(v, 0), 0) + Math.max(b, 0);
        const neg = c.reduce((s, v) => s + Math.min(v, 0), 0) + Math.min(b, 0);
        // One denominator per (row, j) is needed by linearLrp: fold the split into the contributions.
        const share = (v: number): number => (v > 0 ? (alpha * v) / (pos + EPS) : v < 0 ? (-beta * v) / (neg - EPS) : 0);
        return { c: c.map(share), b: share(b), denominator: 1 };
      });
      const report = await checkRule(linearCase(rule, lrp, 13 + alpha));
      expect(report.failures).toEqual([]);
      expect(report.conservation.relativeError).toBeLessThan(1e-4);
    });
  }

  it('ε-rule per layer size: the stabiliser absorbs R ⊙ ε ⊘ (|z| + ε), reported, not asserted', async () => {
    const eps = 0.5;
    const lrp = linearLrp((c, b, z) => ({ c, b, denominator: z + eps * sgn(z) }));
    const report = await checkRule({ ...linearCase(epsilonRule(eps), lrp, 21), conservation: 'report' });
    expect(report.failures).toEqual([]);
    expect(report.conservation.relativeError).toBeGreaterThan(1e-3);
  });
});

describe('the harness fails rules that are wrong', () => {
  it('a rule that doubles the gradient: the LRP form and conservation checks fail', async () => {
    const doubled: BackwardRule<OpAttrs['linear']> = { name: 'doubled', backward: (ctx, g) => ctx.defaultBackward(scale(g, 2)) };
    const report = await checkRule(linearCase(doubled, linearLrp((c, b, z) => ({ c, b, denominator: stabilised(z) })), 31));
    expect(report.ok).toBe(false);
    expect(report.failures.some((f) => f.startsWith('LRP form'))).toBe(true);
    expect(report.failures.some((f) => f.startsWith('conservation'))).toBe(true);
  });

  it('an identity rule without a stabiliser: non-finite relevance at zero inputs', async () => {
    const raw: BackwardRule = {
      name: 'identity-no-eps',
      // g ⊙ y ⊘ x with nothing added to x: 0/0 at x = 0.
      backward: (ctx, g) => [stabilizedDiv(scale(g, 1), ctx.inputs[0]!, 0)],
    };
    const report = await checkRule({ op: 'geluTanh', rule: raw, build: ([x]) => geluTanh(x!), inputs: [{ shape: [8] }], conservation: 'report' });
    expect(report.zeros.finite).toBe(false);
    const good = await checkRule({ op: 'geluTanh', rule: identityRule, build: ([x]) => geluTanh(x!), inputs: [{ shape: [8], lo: -3, hi: 3 }] });
    expect(good.failures).toEqual([]);
  });

  it('a rule that is never bound (build calls another op) is reported', async () => {
    const report = await checkRule({ op: 'silu', rule: identityRule, build: ([x]) => geluTanh(x!), inputs: [{ shape: [4] }], conservation: 'report' });
    expect(report.failures[0]).toMatch(/never bound/);
  });
});
