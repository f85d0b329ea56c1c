/**
 * Detach rules: part of an op is treated as a constant. CP-LRP applies this to the attention
 * probabilities (AH rule: no relevance flows through softmax, so A·V is linear in V) and to the
 * gate of gated MLPs.
 */
import type { BackwardRule } from '../../autograd/graph.js';
import { mul } from '../../autograd/ops/elementwise.js';

/** The op's output is a constant: no input receives a gradient. */
export function detachRule(name: string): BackwardRule {
  return { name, backward: (ctx) => ctx.inputs.map(() => null) };
}

/**
 * act(gate) ⊙ up with the gate detached: linear in `up`, which receives g ⊙ act(gate); the gate
 * branch receives nothing.
 */
export const gateDetachedRule: BackwardRule = {
  name: 'gate-detached',
  backward: (ctx, g) => [null, ctx.needsGrad[1] ? mul(g, ctx.inputs[0]!) : null],
};
