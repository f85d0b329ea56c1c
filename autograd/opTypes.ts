/**
 * Op identity as types. `OpAttrs` maps every registered op's name to its attribute type; each op
 * file adds its own entries (`declare module '../opTypes.js' { interface OpAttrs { … } }`) next to
 * the op's definition, so a rule table keyed by `OpName` rejects a misspelt name at compile time
 * and a rule for one op receives that op's attributes without a cast.
 *
 * `OpRole` is what an op is to an explanation method: methods assign rules to roles, so a new
 * activation is covered by declaring its role, not by remembering to add it to a list.
 */

/** Op name → attribute type. Filled by the op files (declaration merging). */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface OpAttrs {}

/** The name of a registered op: a key of `OpAttrs`. */
export type OpName = keyof OpAttrs & string;

/**
 * - `linear`: an affine map with learned weights (`linear`): ε, γ, z⁺, αβ rules apply.
 * - `sum`: a weightless linear combination (add, sub, scaling, sum/mean reductions): its gradient
 *   is LRP-0 and conserves.
 * - `product`: a product of two operands (mul, matmul, the attention products, gated products).
 * - `activation`: an elementwise nonlinearity with f(0) = 0 (GELU, SiLU, tanh, ReLU).
 * - `nonlinear`: other nonlinear math (exp, log, division, powers, sigmoid, max, variance…).
 * - `norm`: LayerNorm, RMSNorm.
 * - `softmax`: softmax, log-softmax.
 * - `positional`: an op that mixes positional tables into activations (rotary).
 * - `structural`: moves, selects or copies values, or has no gradient (views, concat, gather,
 *   masks, comparisons, detach, argmax).
 */
export type OpRole = 'linear' | 'sum' | 'product' | 'activation' | 'nonlinear' | 'norm' | 'softmax' | 'positional' | 'structural';

/** Every `OpRole`, for validating user input (method descriptions). */
export const OP_ROLES: readonly OpRole[] = ['linear', 'sum', 'product', 'activation', 'nonlinear', 'norm', 'softmax', 'positional', 'structural'];

/** Whether a string names an `OpRole`. */
export function isOpRole(value: string): value is OpRole {
  return (OP_ROLES as readonly string[]).includes(value);
}

/**
 * The attributes a rule assigned to a role may rely on: a `norm` rule is applied to both
 * `layerNorm` and `rmsNorm`, which share their attributes; other roles promise nothing.
 */
export interface RoleAttrs {
  /** Rules for `linear` see its attributes. */
  linear: OpAttrs['linear'];
  /** Rules for `norm` see what LayerNorm and RMSNorm share (eps, affine flags). */
  norm: OpAttrs['layerNorm'] & OpAttrs['rmsNorm'];
  /** No attributes promised. */
  sum: unknown;
  /** No attributes promised. */
  product: unknown;
  /** No attributes promised. */
  activation: unknown;
  /** No attributes promised. */
  nonlinear: unknown;
  /** No attributes promised. */
  softmax: unknown;
  /** No attributes promised. */
  positional: unknown;
  /** No attributes promised. */
  structural: unknown;
}
