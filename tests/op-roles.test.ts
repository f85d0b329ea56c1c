/**
 * Op identity and roles: every registered op declares its LRP role where it is defined, rule
 * tables are typed by op name (a misspelt key does not compile, a rule gets its op's attributes),
 * and methods assign rules by role, so a new activation cannot silently keep its gradient.
 */
import { beforeAll, describe, expect, it } from 'vitest';
// The whole engine, so that every op is registered.
import '../autograd/index.js';
import { backward, topologicalNodes } from '../autograd/backward.js';
import { withBackwardRules, type BackwardRule, type RuleTable } from '../autograd/graph.js';
import { opRole, registeredOps } from '../autograd/op.js';
import { isOpRole, type OpAttrs } from '../autograd/opTypes.js';
import { applyElementwise, relu } from '../autograd/ops/elementwise.js';
import { layerNorm } from '../autograd/ops/norm.js';
import { Tensor } from '../autograd/tensor.js';
import { ruleResolver } from '../lrp/composites.js';
import { methodSpec } from '../lrp/methods.js';
import { epsilonRule } from '../lrp/rules/epsilon.js';
import { normScaleDetachedRule } from '../lrp/rules/normScale.js';
import { gpu } from './helpers/gpu.js';

beforeAll(async () => {
  await gpu();
});

describe('op roles', () => {
  it('every registered op declares a role', () => {
    const ops = registeredOps();
    expect(ops.length).toBeGreaterThan(60);
    const missing = ops.filter((op) => !isOpRole(opRole(op) ?? ''));
    expect(missing).toEqual([]);
  });

  it('the activations are the f(0) = 0 nonlinearities, and the LRP methods give each the identity rule', () => {
    const activations = registeredOps().filter((op) => opRole(op) === 'activation').sort();
    expect(activations).toEqual(['geluErf', 'geluTanh', 'relu', 'silu', 'tanh']);
    for (const method of ['cp-lrp', 'attnlrp', 'pa-lrp'] as const) {
      const resolve = ruleResolver(methodSpec(method));
      for (const op of activations) expect(resolve(op, opRole(op))?.name, `${method} ${op}`).toBe('identity');
    }
    expect(activations.map((op) => ruleResolver(methodSpec('gi'))(op, opRole(op)))).toEqual(activations.map(() => undefined));
  });

  it('a rule by role is bound at record time: ReLU under AttnLRP records the identity rule', () => {
    const x = Tensor.fromArray([-1, 2, 3], [3]).setRequiresGrad();
    const y = withBackwardRules(ruleResolver(methodSpec('attnlrp')), () => relu(x));
    expect(topologicalNodes(y).map((n) => [n.op, n.rule])).toEqual([['relu', 'identity']]);
    y.dispose();
    x.dispose();
  });
});

describe('typed op identity', () => {
  it('a rule for one op receives its attributes without a cast', () => {
    let seen: OpAttrs['layerNorm'] | null = null;
    const spy: BackwardRule<OpAttrs['layerNorm']> = {
      name: 'spy',
      backward: (ctx, g) => {
        seen = ctx.attrs; // typed: { center, eps, hasWeight, hasBias }
        return ctx.defaultBackward(g);
      },
    };
    const table: RuleTable = { layerNorm: spy, linear: epsilonRule(0.1), rmsNorm: normScaleDetachedRule };
    const x = Tensor.fromArray([1, 2, 3, 4], [1, 4]).setRequiresGrad();
    const y = withBackwardRules(table, () => layerNorm(x, null, null, 1e-3));
    backward(y, { seed: Tensor.fromArray([1, 0, 0, 0], [1, 4]) });
    expect(seen).toEqual({ center: true, eps: 1e-3, hasWeight: false, hasBias: false });
    y.dispose();
    x.dispose();
  });

  it('misspelt op names and rules for another op’s attributes do not compile', () => {
    // @ts-expect-error 'linaer' is not an op name
    const misspelt: RuleTable = { linaer: epsilonRule(0.1) };
    // @ts-expect-error a norm rule (NormAttrs) does not fit attentionScores ({ scale })
    const wrongAttrs: RuleTable = { attentionScores: normScaleDetachedRule };
    // Never called: only compiled.
    const unknownOp = (): Tensor =>
      // @ts-expect-error 'gelu' is the function; the op is 'geluErf'
      applyElementwise('gelu', []);
    expect([misspelt, wrongAttrs, unknownOp].length).toBe(3);
  });
});
