/**
 * A harness for propagation rules: given a rule and the op it is for, it checks on seeded random
 * inputs that
 *   1. the rule's gradient form (what the engine runs, in f32 on the GPU) gives the relevance its
 *      LRP form gives (computed by the caller in float64 on the host): R_x = x ⊙ ĝ_x;
 *   2. relevance is conserved: Σ R over the variable inputs = Σ R at the output (or it reports
 *      the gap, for rules that are not meant to conserve);
 *   3. zeros are safe: all-zero variable inputs give finite relevance, a zero output relevance
 *      gives zero input relevance;
 *   4. signs behave: negating the output relevance negates every input relevance (rules are
 *      linear in R), and inputs with mixed signs and exact zeros give finite relevance.
 * docs/writing-rules.md walks through it.
 */
import { backward, topologicalNodes } from '../autograd/backward.js';
import { withBackwardRules, type BackwardRule } from '../autograd/graph.js';
import type { OpAttrs, OpName } from '../autograd/opTypes.js';
import { Tensor } from '../autograd/tensor.js';
import { seededUniform } from '../autograd/rng.js';

/** One input of a rule case: its shape, and whether and how it is filled. */
export interface HarnessInput {
  /** The input's dimensions. */
  shape: number[];
  /** Receives relevance (default true). Constants (weights) set false. */
  variable?: boolean;
  /** Fixed values; otherwise uniform in [lo, hi] (default [−1, 1]). */
  data?: ArrayLike<number>;
  /** Lower bound of the uniform random values (default −1). */
  lo?: number;
  /** Upper bound of the uniform random values (default 1). */
  hi?: number;
}

/** What the LRP form is given: float64 copies of the inputs and output, and R at the output. */
export interface LrpFormArgs {
  /** The inputs' values, one array per input (row-major). */
  inputs: Float64Array[];
  /** The op's output values. */
  output: Float64Array;
  /** Relevance at the output, R_y = y ⊙ ĝ_y. */
  relevance: Float64Array;
}

/**
 * A rule to check on one op (`checkRule`): how to build the op, its inputs, and the LRP form to compare with.
 */
export interface RuleCase<K extends OpName> {
  /** Shown in the report (default `<rule> on <op>`). */
  name?: string;
  /** The op the rule is bound to. */
  op: K;
  /** The rule under test. */
  rule: BackwardRule<OpAttrs[K]>;
  /** Computes the output from the inputs by calling the op (the rule is bound to `op` only). */
  build: (inputs: Tensor[]) => Tensor;
  /** The op's inputs, in order. */
  inputs: HarnessInput[];
  /** The rule's LRP form in float64: relevance per input (null for constants). */
  lrp?: (args: LrpFormArgs) => (Float64Array | null)[];
  /** 'exact': Σ R_inputs must equal Σ R_output (default); 'report': only measure the gap. */
  conservation?: 'exact' | 'report';
  /** Tolerances for the f32-vs-float64 comparisons (default rtol 1e-3, atol 1e-4 × max |R|). */
  rtol?: number;
  /** Absolute tolerance as a fraction of max |R| (default 1e-4). */
  atol?: number;
  /** Seed of the random inputs (default 1). */
  seed?: number;
}

/** The outcome of `checkRule`: every check's result, with the failures spelled out. */
export interface RuleReport {
  /** The case's name. */
  name: string;
  /** True when every check passed. */
  ok: boolean;
  /** One line per failed check. */
  failures: string[];
  /** Largest |gradient form − LRP form| beyond tolerance (≤ 0 passes); null without `lrp`. */
  lrpExcess: number | null;
  /** Conservation over the case. */
  conservation: {
    /** Σ R at the output. */
    output: number;
    /** Σ R over the variable inputs. */
    inputs: number;
    /** |inputs − output| / |output|. */
    relativeError: number;
  };
  /** Whether zeros are safe. */
  zeros: {
    /** All-zero variable inputs give finite relevance. */
    finite: boolean;
    /** A zero output relevance gives zero input relevance. */
    zeroForZeroRelevance: boolean;
  };
  /** Whether signs behave. */
  signs: {
    /** Negating the output relevance negates every input relevance. */
    negatesWithRelevance: boolean;
    /** Inputs with mixed signs and exact zeros give finite relevance. */
    finiteWithMixedSigns: boolean;
  };
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const total = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
};
const allFinite = (rs: readonly Float64Array[]): boolean => rs.every((r) => r.every(Number.isFinite));

interface Run {
  output: Float64Array;
  /** x ⊙ ĝ_x per input (zeros for constants and inputs no gradient reached). */
  relevance: Float64Array[];
  ruleBound: boolean;
}

async function runOnce<K extends OpName>(c: RuleCase<K>, values: Float32Array[], seedOf: (y: Float64Array) => Float64Array): Promise<Run> {
  const xs = c.inputs.map((inp, k) => Tensor.fromArray(values[k]!, inp.shape).setRequiresGrad(inp.variable !== false));
  const rule = c.rule as BackwardRule;
  const y = withBackwardRules((op) => (op === c.op ? rule : undefined), () => c.build(xs));
  try {
    const ruleBound = topologicalNodes(y).some((n) => n.op === c.op && n.rule === c.rule.name);
    const output = Float64Array.from(await y.toArray());
    const seed = Tensor.fromArray(Float32Array.from(seedOf(output)), y.shape);
    backward(y, { seed });
    seed.dispose();
    const relevance: Float64Array[] = [];
    for (let k = 0; k < xs.length; k++) {
      const g = xs[k]!.grad ? await xs[k]!.grad!.toArray() : null;
      relevance.push(Float64Array.from(values[k]!, (v, i) => (g && c.inputs[k]!.variable !== false ? v * g[i]! : 0)));
    }
    return { output, relevance, ruleBound };
  } finally {
    y.dispose();
    for (const x of xs) x.dispose();
  }
}

/** Runs every check of the harness on `c`; see the module comment. Never throws for a failed check. */
export async function checkRule<K extends OpName>(c: RuleCase<K>): Promise<RuleReport> {
  const name = c.name ?? `${c.rule.name} on ${c.op}`;
  const rand = seededUniform(c.seed ?? 1);
  const failures: string[] = [];
  const draw = (inp: HarnessInput, zeros: boolean): Float32Array => {
    const n = numel(inp.shape);
    if (inp.data) return Float32Array.from(inp.data);
    const [lo, hi] = [inp.lo ?? -1, inp.hi ?? 1];
    // With `zeros`, about one value in five is an exact 0 (variables only).
    return Float32Array.from({ length: n }, () => (zeros && inp.variable !== false && rand() < 0.2 ? 0 : lo + (hi - lo) * rand()));
  };
  const values = c.inputs.map((inp) => draw(inp, false));
  let outSeed = new Float64Array(0);
  const seedFromY = (y: Float64Array): Float64Array => (outSeed = Float64Array.from(y, () => rand() * 2 - 1));

  // 1 and 2: gradient form against LRP form, and conservation.
  const base = await runOnce(c, values, seedFromY);
  if (!base.ruleBound) failures.push(`the rule '${c.rule.name}' was never bound: build() does not call op '${c.op}'`);
  const R = Float64Array.from(base.output, (v, i) => v * outSeed[i]!);
  const rScale = Math.max(1e-30, ...Array.from(R, Math.abs));
  const rtol = c.rtol ?? 1e-3;
  const atol = c.atol ?? 1e-4 * rScale;
  let lrpExcess: number | null = null;
  if (c.lrp) {
    const expected = c.lrp({ inputs: values.map((v) => Float64Array.from(v)), output: base.output, relevance: R });
    lrpExcess = -Infinity;
    expected.forEach((e, k) => {
      if (!e) return;
      const got = base.relevance[k]!;
      if (e.length !== got.length) {
        failures.push(`LRP form: input ${k} has ${got.length} values, the LRP form gave ${e.length}`);
        return;
      }
      for (let i = 0; i < e.length; i++) {
        const excess = Math.abs(got[i]! - e[i]!) - (atol + rtol * Math.abs(e[i]!));
        if (excess > lrpExcess!) lrpExcess = excess;
        if (excess > 0 && failures.every((f) => !f.startsWith(`LRP form: input ${k}`))) {
          failures.push(`LRP form: input ${k} element ${i}: gradient form gives ${got[i]}, LRP form ${e[i]}`);
        }
      }
    });
  }
  const out = total(R);
  const inputs = base.relevance.reduce((s, r) => s + total(r), 0);
  const relativeError = Math.abs(inputs - out) / Math.max(Math.abs(out), 1e-30);
  if ((c.conservation ?? 'exact') === 'exact' && Math.abs(inputs - out) > 10 * atol + rtol * Math.abs(out)) {
    failures.push(`conservation: Σ R at the inputs is ${inputs}, at the output ${out} (relative error ${relativeError.toExponential(2)})`);
  }

  // 3: zeros.
  const zeroInputs = c.inputs.map((inp, k) => (inp.variable === false ? values[k]! : new Float32Array(values[k]!.length)));
  const atZero = await runOnce(c, zeroInputs, (y) => Float64Array.from(y, () => rand() * 2 - 1));
  const finite = allFinite(atZero.relevance) && atZero.output.every(Number.isFinite);
  if (!finite) failures.push('zeros: all-zero inputs give non-finite relevance');
  const zeroR = await runOnce(c, values, (y) => new Float64Array(y.length));
  const zeroForZeroRelevance = zeroR.relevance.every((r) => r.every((v) => v === 0));
  if (!zeroForZeroRelevance) failures.push('zeros: zero relevance at the output gives nonzero relevance at an input');

  // 4: signs.
  const negated = await runOnce(c, values, (y) => Float64Array.from(y, (_, i) => -outSeed[i]!));
  const negatesWithRelevance = negated.relevance.every((r, k) => r.every((v, i) => Math.abs(v + base.relevance[k]![i]!) <= atol + rtol * Math.abs(v)));
  if (!negatesWithRelevance) failures.push('signs: negating the output relevance does not negate the input relevance');
  const mixed = c.inputs.map((inp) => draw(inp, true));
  const mixedRun = await runOnce(c, mixed, (y) => Float64Array.from(y, () => rand() * 2 - 1));
  const finiteWithMixedSigns = allFinite(mixedRun.relevance);
  if (!finiteWithMixedSigns) failures.push('signs: inputs with mixed signs and exact zeros give non-finite relevance');

  return {
    name,
    ok: failures.length === 0,
    failures,
    lrpExcess,
    conservation: { output: out, inputs, relativeError },
    zeros: { finite, zeroForZeroRelevance },
    signs: { negatesWithRelevance, finiteWithMixedSigns },
  };
}
