/**
 * A new propagation rule and a per-layer composite, written in user code against the public API
 * only, checked with the rule harness and run through explain(). docs/writing-rules.md walks
 * through this file; tests/writing-rules.test.ts runs it.
 *
 * The rule: an ε-rule whose stabiliser scales with the layer's activations. A fixed ε means
 * something different in every layer (activations differ by orders of magnitude); here each row
 * of z gets ε_row = δ · mean_j |z_j|, so δ is the same "fraction of a typical output" everywhere.
 *
 *   LRP:       R_x = x ⊙ Wᵀ( R_z ⊘ (z + ε_row·sign z) )
 *   gradient:  ĝ_x = Wᵀ( ĝ_z ⊙ z ⊘ (z + ε_row·sign z) )      (ε_row held constant)
 */
import {
  abs,
  add,
  checkRule,
  composite,
  div,
  explain,
  full,
  ge,
  linear,
  mean,
  mul,
  scale,
  type BackwardRule,
  type Explanation,
  type LrpFormArgs,
  type MethodSpec,
  type OpAttrs,
  type RuleReport,
  type TransformerModel,
} from '../index.js';

// ---- 1. The rule -------------------------------------------------------------------------------

/**
 * Keeps ε_row > 0 when a whole row of z is 0 (then mean |z| = 0 and the ratio would be 0/0). The
 * rule harness's zeros check is what finds this: docs/writing-rules.md, step 3.
 */
const FLOOR = 1e-12;

/** The relative ε-rule for `linear`: its attributes are `OpAttrs['linear']`, checked by the compiler. */
export function relativeEpsilonRule(delta: number, floor = FLOOR): BackwardRule<OpAttrs['linear']> {
  return {
    name: `relative-epsilon(${delta})`,
    backward: (ctx, g) => {
      const z = ctx.output;
      const epsilonRow = scale(mean(abs(z), -1, true), delta, floor); // δ·mean|z| + floor, [..., 1]
      const signZ = scale(ge(z, full([], 0)), 2, -1); // sign z with sign 0 := +1
      const ratio = div(z, add(z, mul(epsilonRow, signZ))); // z ⊘ (z + ε_row·sign z)
      // The op's own backward applied to the modified output gradient: Wᵀ(ĝ ⊙ ratio), and the
      // bias (when it is a leaf) receives its share b ⊙ R_z ⊘ (z + ε_row·sign z).
      return ctx.defaultBackward(mul(g, ratio));
    },
  };
}

// ---- 2. Its LRP form in float64, for the harness -------------------------------------------------

export function relativeEpsilonLrp(delta: number, floor: number, rows: number, inF: number, outF: number) {
  return ({ inputs: [x, W, b], relevance: R }: LrpFormArgs): (Float64Array | null)[] => {
    const Rx = new Float64Array(rows * inF);
    const Rb = new Float64Array(outF);
    for (let r = 0; r < rows; r++) {
      const z = Array.from({ length: outF }, (_, j) => {
        let s = b![j]!;
        for (let i = 0; i < inF; i++) s += x![r * inF + i]! * W![j * inF + i]!;
        return s;
      });
      const epsilonRow = (delta * z.reduce((s, v) => s + Math.abs(v), 0)) / outF + floor;
      z.forEach((zj, j) => {
        const share = R[r * outF + j]! / (zj + epsilonRow * (zj >= 0 ? 1 : -1));
        for (let i = 0; i < inF; i++) Rx[r * inF + i]! += x![r * inF + i]! * W![j * inF + i]! * share;
        Rb[j]! += b![j]! * share;
      });
    }
    return [Rx, null, Rb];
  };
}

// ---- 3. Checking it with the harness -------------------------------------------------------------

export async function checkRelativeEpsilon(delta: number, floor = FLOOR): Promise<RuleReport> {
  const [rows, inF, outF] = [4, 8, 5];
  return checkRule({
    op: 'linear',
    rule: relativeEpsilonRule(delta, floor),
    build: ([x, w, b]) => linear(x!, w!, b!),
    inputs: [{ shape: [rows, inF] }, { shape: [outF, inF], variable: false }, { shape: [outF], lo: -0.2, hi: 0.2 }],
    lrp: relativeEpsilonLrp(delta, floor, rows, inF, outF),
    // An ε-rule absorbs R ⊙ ε ⊘ (|z| + ε): measure it, do not demand conservation.
    conservation: 'report',
  });
}

// ---- 4. A per-layer composite and an explanation -------------------------------------------------

/** AttnLRP everywhere, but the relative ε-rule on the linear layers of blocks 1 and up. */
export function relativeEpsilonAbove(firstLayer: number, lastLayer: number, delta: number): MethodSpec {
  return composite('attnlrp', [{ match: `layers.{${firstLayer}..${lastLayer}}`, roles: { linear: relativeEpsilonRule(delta) } }], {
    name: `attnlrp+relative-epsilon(${delta})`,
  });
}

export async function explainWithComposite(model: TransformerModel, ids: number[]): Promise<Explanation> {
  const last = model.info.layers - 1;
  return explain(model, { ids: [ids] }, { method: relativeEpsilonAbove(1, last, 0.05), capture: ['layers.1.mlp'] });
}
