/**
 * The conservation ledger's rule losses, measured during the backward sweep. Relevance at any
 * tensor is v ⊙ ĝ_v (docs/rules.md), so each node of the graph has an exact local balance:
 *
 *   loss(node) = Σ y ⊙ ĝ_y − Σ_i Σ x_i ⊙ g_i ,
 *
 * y its output, g_i the gradient its rule passed to input x_i (0 for inputs that take none).
 * Summed over the graph, these telescope: output = Σ_leaves x ⊙ ĝ_x + Σ_nodes loss(node). The
 * leaves are the token and positional inputs and the bias leaves, so every relevance that does
 * not reach an input or a bias is a node loss, and each loss is booked by what the node is:
 * a linear layer's (the ε stabiliser), a softmax's (per attention layer), a node consuming a
 * constant positional tensor (what AttnLRP's constant PE absorbs), or any other op.
 */
import type { NodeVisit } from '../autograd/backward.js';
import type { BackwardFn, Node } from '../autograd/graph.js';
import { opRole } from '../autograd/op.js';
import type { Storage } from '../autograd/storage.js';
import type { Tensor } from '../autograd/tensor.js';
import { gateDetachedRule } from './rules/detach.js';
import { identityRule } from './rules/identity.js';
import { normScaleDetachedRule } from './rules/normScale.js';
import { proportionalSumRule } from './rules/proportionalSum.js';
import { uniformRule } from './rules/uniform.js';
import { DotBatch } from './dotBatch.js';

/** What the recorder books per node, before the numbers are read. */
export interface RuleLosses {
  /** Σ loss over linear-role nodes: what the ε (γ, αβ) stabilisers absorbed. */
  stabilizers: number;
  /** Per softmax that passed relevance down, in graph order from the input: what its rule lost. */
  softmax: { name: string; lost: number }[];
  /** Σ loss over nodes consuming a constant positional tensor. */
  constantPositional: number;
  /** Σ loss over every other measured node. */
  otherOps: number;
}

/** Ops that only move or copy values: exactly conservative under their own gradient. */
const VIEW_OPS: ReadonlySet<string> = new Set(['contiguous', 'reshape', 'permute', 'expand', 'slice', 'concat', 'copy']);
/** Sums that are conservative when every addend is variable (no constant is added). */
const PURE_SUMS: ReadonlySet<string> = new Set(['add', 'sub', 'neg', 'sum', 'mean']);
/** Products: under their own gradient, linear (so conservative) in a single variable operand. */
const PRODUCTS: ReadonlySet<string> = new Set(['mul', 'matmul', 'attentionScores', 'attentionContext', 'gatedProduct']);
/**
 * Rules that conserve exactly by construction (docs/rules.md): identity, the norm with its scale
 * detached (bias shares are leaves), uniform, the proportional split, the detached gate.
 */
const CONSERVATIVE_RULES: ReadonlySet<BackwardFn> = new Set<BackwardFn>(
  [identityRule, normScaleDetachedRule, uniformRule, proportionalSumRule, gateDetachedRule].map((r) => r.backward as BackwardFn),
);

/**
 * Whether a node cannot lose relevance (in exact arithmetic), so measuring it would only add GPU
 * work: its share of rounding stays in the remainder, which the tests bound on every family.
 */
function conservesByConstruction(node: Node, needsGrad: readonly boolean[], attrs: unknown): boolean {
  if (CONSERVATIVE_RULES.has(node.backward)) return true;
  if (node.rule) return false;
  if (VIEW_OPS.has(node.op)) return true;
  if (PURE_SUMS.has(node.op)) return needsGrad.every(Boolean);
  if (node.op === 'affine') return (attrs as { scalars: number[] }).scalars[1] === 0;
  // Wx + b with x variable and the bias a leaf (or absent): linear, the bias share is measured at its leaf.
  if (node.op === 'linear') return needsGrad[0] === true && (needsGrad.length < 3 || needsGrad[2] === true);
  if (PRODUCTS.has(node.op)) return needsGrad.filter(Boolean).length === 1;
  return false;
}

type Bucket = 'stabilizers' | 'constantPositional' | 'otherOps';

/** One measured term: the sign with which a dot product of the batch enters a bucket. */
interface Term {
  key: string;
  id: number;
  sign: 1 | -1;
}

/**
 * Books each measured node's loss as dot products queued on a `DotBatch` (Σ y ⊙ ĝ_y with +,
 * each Σ x_i ⊙ g_i with −): many nodes share one dispatch, and the totals are formed on the host
 * in float64 once the batch is read.
 */
export class LedgerRecorder {
  private readonly terms: Term[] = [];
  private readonly keys = new Set<string>();
  /** Softmax buckets by name, in the order first seen (the sweep runs from the output down). */
  private readonly softmaxOrder: string[] = [];
  private unnamedSoftmax = 0;

  /**
   * @param constantPositional storages of the positional tensors held constant in this call: a node
   *   reading one (directly or through a view) without taking its gradient absorbs its share.
   * @param softmaxNames the tapped softmax outputs, by tensor: the layer a softmax's loss is booked to.
   * @param batch where the dot products go (explain() shares one with its relevance totals).
   */
  constructor(
    private readonly constantPositional: ReadonlySet<Storage>,
    private readonly softmaxNames: ReadonlyMap<Tensor, string>,
    readonly batch: DotBatch = new DotBatch(),
  ) {}

  /** The backward hook: books one node's loss. */
  readonly onNode = (visit: NodeVisit): void => {
    const { node, ctx } = visit;
    const role = opRole(node.op);
    const readsConstantPositional = ctx.inputs.some((x, i) => !ctx.needsGrad[i] && this.constantPositional.has(x.storage));
    if (!readsConstantPositional && conservesByConstruction(node, ctx.needsGrad, ctx.attrs)) return;
    // Read only past the early return: a slice's gradients are summed and padded when first read.
    const { gradOutput, inputGrads, foldedPriors } = visit;
    const passed = ctx.inputs.some((_, i) => inputGrads[i] && ctx.needsGrad[i]);
    let key: string;
    if (readsConstantPositional) key = bucketKey('constantPositional');
    else if (role === 'linear') key = bucketKey('stabilizers');
    else if (role === 'softmax' && passed) key = this.softmaxKey(node.output);
    // A softmax that passes nothing down is detached (CP-LRP): what its consumer pushed into it is
    // booked with that consumer's gain under "other", where the two cancel.
    else key = bucketKey('otherOps');
    this.keys.add(key);
    this.terms.push({ key, id: this.batch.add(ctx.output, gradOutput), sign: 1 });
    ctx.inputs.forEach((x, i) => {
      const g = inputGrads[i];
      if (!g || !ctx.needsGrad[i]) return;
      this.terms.push({ key, id: this.batch.add(x, g), sign: -1 });
      // A gradient with the input's earlier gradient folded in: only the rest is this node's.
      const prior = foldedPriors[i];
      if (prior) this.terms.push({ key, id: this.batch.add(x, prior), sign: 1 });
    });
  };

  private softmaxKey(output: Tensor): string {
    const name = this.softmaxNames.get(output) ?? `softmax#${++this.unnamedSoftmax}`;
    const key = `softmax:${name}`;
    if (!this.keys.has(key)) this.softmaxOrder.push(name);
    return key;
  }

  /** The booked totals, given the values of the batch's dot products (`DotBatch.read()`). */
  losses(values: Float64Array): RuleLosses {
    const totals = new Map<string, number>();
    for (const t of this.terms) totals.set(t.key, (totals.get(t.key) ?? 0) + t.sign * values[t.id]!);
    const at = (key: string): number => totals.get(key) ?? 0;
    return {
      stabilizers: at(bucketKey('stabilizers')),
      // The sweep meets the top layer first; report from the input upwards, as `layers` does.
      softmax: [...this.softmaxOrder].reverse().map((name) => ({ name, lost: at(`softmax:${name}`) })),
      constantPositional: at(bucketKey('constantPositional')),
      otherOps: at(bucketKey('otherOps')),
    };
  }

  /** Reads the batch (one transfer) and returns the booked totals; frees the batch. */
  async read(): Promise<RuleLosses> {
    return this.losses(await this.batch.read());
  }

  dispose(): void {
    this.batch.dispose();
  }
}

function bucketKey(bucket: Bucket): string {
  return `bucket:${bucket}`;
}
