/**
 * Reverse-mode sweep: topological order from the root, each node's backward in reverse, gradients
 * accumulated per tensor, leaves' `grad` filled, and each node's saved buffers released as soon as
 * the sweep has passed it (unless `retainGraph`).
 */
import { shapeToString, sameShape } from '../kernels/shape.js';
import type { OpAttrs } from './opTypes.js';
import { noGrad, releaseNode, type BackwardContext, type Node } from './graph.js';
import { contextOf } from './op.js';
import { keep, tidy } from './scope.js';
import type { Tensor } from './tensor.js';
import { add } from './ops/elementwise.js';
import { full } from './ops/creation.js';
import { ownSliceWindow } from './ops/sliceBackward.js';
import { wrap } from './ops/wrap.js';
import { padWindow, windowSum } from '../kernels/pad.js';
import type { Shape } from '../kernels/shape.js';

/** Options of `backward`: the seed, graph retention and a per-node observer. */
export interface BackwardOptions {
  /** d(root) seed; required unless the root has exactly one element. */
  seed?: Tensor;
  /** Keep saved buffers so backward can run again over the same graph. */
  retainGraph?: boolean;
  /**
   * Called after each node's backward, before its gradients are passed on: for measurements
   * (LRP's conservation ledger). Runs without recording, inside a tidy (keep() what must survive);
   * it must not dispose what it is given.
   */
  onNode?: (visit: NodeVisit) => void;
}

/** What `onNode` sees of one step of the sweep. */
export interface NodeVisit {
  /** The node whose backward just ran. */
  readonly node: Node;
  /** The context the backward received: saved inputs and output, which inputs need a gradient. */
  readonly ctx: BackwardContext;
  /**
   * The gradient that arrived at the node's output. (For a slice, its contributions are summed
   * only when an observer reads this: read it only when needed.)
   */
  readonly gradOutput: Tensor;
  /**
   * What the backward returned, per input (null: none); gradients for inputs that do not need one
   * are dropped. Where `foldedPriors[i]` is set, `inputGrads[i]` includes it: what the node itself
   * passed to input i is `inputGrads[i] − foldedPriors[i]`. (A slice's gradient is padded to its
   * input's shape only when an observer reads this.)
   */
  readonly inputGrads: readonly (Tensor | null)[];
  /**
   * Per input, the gradient accumulated before this node that its backward folded into
   * `inputGrads[i]` (`BackwardContext.takeAccumulatedGrad`); null where it folded none.
   */
  readonly foldedPriors: readonly (Tensor | null)[];
}

/** Nodes reachable from `root`, inputs before the ops that consume them. */
export function topologicalNodes(root: Tensor): Node[] {
  const order: Node[] = [];
  if (!root.node) return order;
  const visited = new Set<Node>();
  const stack: { node: Node; expanded: boolean }[] = [{ node: root.node, expanded: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.expanded) {
      order.push(top.node);
      continue;
    }
    if (visited.has(top.node)) continue;
    visited.add(top.node);
    stack.push({ node: top.node, expanded: true });
    for (const input of top.node.inputs) if (input.node && !visited.has(input.node)) stack.push({ node: input.node, expanded: false });
  }
  return order;
}

/**
 * Frees the saved buffers of every node `root` can reach, without running backward: for a graph
 * that will never be differentiated (an error between forward and backward, say).
 */
export function releaseGraph(root: Tensor): void {
  for (const node of topologicalNodes(root)) releaseNode(node);
}

/**
 * Runs reverse-mode differentiation from `root`: leaves (and tensors with `retainGrad()`) get
 * their `grad` added to. Each node's backward is the one bound when it was recorded (its own, or
 * a rule from `withBackwardRules`); the graph's saved buffers are freed on the way unless
 * `retainGraph`. Throws when `root` does not require grad, is not a scalar and has no `seed` (or a
 * seed of another shape), or its graph was already freed.
 */
export function backward(root: Tensor, options: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new Error(`backward: ${root.toString()} does not require grad (no input of its computation has requiresGrad set)`);
  }
  const { seed } = options;
  if (!seed && root.size !== 1) {
    throw new Error(`backward: the root has shape ${shapeToString(root.shape)}; a non-scalar root needs a seed of the same shape`);
  }
  if (seed && !sameShape(seed.shape, root.shape)) {
    throw new Error(`backward: seed shape ${shapeToString(seed.shape)} does not match the root's shape ${shapeToString(root.shape)}`);
  }
  if (root.node?.released) {
    throw new Error(
      `backward: the graph of ${root.toString()} was already freed, by an earlier backward (use { retainGraph: true }) ` +
        `or by the tidy that disposed it`,
    );
  }

  noGrad(() => {
    // Every gradient the sweep holds is a handle it owns (see `own`): a backward may return its
    // incoming gradient itself (add, copy, sumToShape of a same-shape tensor), the same tensor for
    // two inputs (add), or a tensor someone else holds (a saved input, a constant), so the sweep
    // never disposes a tensor a backward returned, only its own handles on them.
    const grads = new Map<Tensor, Pending>();
    grads.set(root, { parts: [{ g: seed ? own(seed) : keep(full(root.shape, 1)), window: null }] });

    const entryOf = (target: Tensor): Pending => {
      let entry = grads.get(target);
      if (!entry) grads.set(target, (entry = { parts: [] }));
      return entry;
    };

    // Contributions wait, unsummed, until the target's gradient is needed: then all of them take
    // one dispatch. Past a few, they are summed at once so that pending memory stays bounded.
    const pend = (target: Tensor, part: Part): void => {
      const entry = entryOf(target);
      entry.parts.push(part);
      if (entry.parts.length >= MAX_PENDING_PARTS) entry.parts = [{ g: settle(target.shape, entry), window: null }];
    };
    const accumulate = (target: Tensor, g: Tensor): void => pend(target, { g, window: null });

    // The target's gradient, out of the map: its pending contributions summed.
    const takeGrad = (target: Tensor): Tensor | null => {
      const entry = grads.get(target);
      if (!entry) return null;
      grads.delete(target);
      return settle(target.shape, entry);
    };

    const finish = (t: Tensor, g: Tensor): void => {
      // Leaves and retained non-leaves keep their gradient (summed into any existing grad).
      if (!(t.isLeaf || t.retainsGrad)) {
        g.dispose();
        return;
      }
      if (t.grad) {
        const sum = keep(add(t.grad, g));
        t.grad.dispose();
        g.dispose();
        t.grad = sum;
      } else {
        t.grad = g;
      }
    };

    // Whatever a failed step still holds: freed by the `finally` below.
    const inFlight: Tensor[] = [];
    try {
      for (const node of topologicalNodes(root).reverse()) {
        const window = ownSliceWindow(node);
        const entry = grads.get(node.output);
        if (entry && window && node.inputs[0]!.requiresGrad && !node.output.retainsGrad && entry.parts.every((p) => !p.window)) {
          // A slice's gradient contributions go on to its input as windows, still unsummed.
          grads.delete(node.output);
          passWindow(node, window, entry.parts.map((p) => p.g));
          inFlight.length = 0;
        } else if (entry) {
          const gOut = takeGrad(node.output)!;
          inFlight.push(gOut);
          if (window && node.inputs[0]!.requiresGrad) passWindow(node, window, [own(gOut)]);
          else runBackward(node, gOut);
          inFlight.length = 0;
          finish(node.output, gOut);
        }
        if (!options.retainGraph) releaseNode(node);
      }
      // Leaves: everything left in the map belongs to tensors without a node.
      for (const t of [...grads.keys()]) {
        const entry = grads.get(t)!;
        // A leaf's earlier grad joins the dispatch that sums its contributions, when there is one.
        const single = entry.parts.length === 1 && !entry.parts[0]!.window;
        if ((t.isLeaf || t.retainsGrad) && t.grad && !single) {
          entry.parts.unshift({ g: t.grad, window: null });
          t.grad = null;
        }
        finish(t, takeGrad(t)!);
      }
    } finally {
      // Only reached with anything left when a backward threw: free the gradients in flight.
      for (const g of inFlight) g.dispose();
      for (const entry of grads.values()) for (const { g } of entry.parts) g.dispose();
    }

    /**
     * A slice under its own backward: its output's gradient (`parts`, owned, full-shape, summed
     * only if an observer reads it) goes to the input as windows, assembled with the input's other
     * contributions when the input's gradient is needed. An observer that reads `inputGrads` gets
     * (and the input receives) the padded gradient instead.
     */
    function passWindow(node: Node, window: SliceAttrs, parts: Tensor[]): void {
      inFlight.push(...parts);
      const input = node.inputs[0]!;
      // Built even when unused: it refuses a node whose graph was already freed, as for any node.
      const ctx = contextOf(node);
      let padded: Tensor | null = null;
      const summed = (): Tensor => {
        if (parts.length > 1) {
          const sum = settle(node.output.shape, { parts: parts.map((g) => ({ g, window: null })) });
          inFlight.push(sum);
          parts = [sum];
        }
        return parts[0]!;
      };
      if (options.onNode) {
        const visit: NodeVisit = {
          node,
          ctx,
          get gradOutput() {
            return summed();
          },
          get inputGrads() {
            if (!padded) {
              padded = keep(wrap(padWindow(summed(), input.shape, window)));
              inFlight.push(padded);
            }
            return [padded];
          },
          foldedPriors: [null],
        };
        tidy(() => options.onNode!(visit));
      }
      if (padded) {
        for (const g of parts) g.dispose();
        accumulate(input, padded);
      } else {
        for (const g of parts) pend(input, { g, window });
      }
    }

    /** Any other node: its bound backward, which may fold the inputs' accumulated gradients in. */
    function runBackward(node: Node, gOut: Tensor): void {
      const folded: (Tensor | null)[] = node.inputs.map(() => null);
      const base = contextOf(node);
      const ctx: BackwardContext = {
        ...base,
        takeAccumulatedGrad: (i) => {
          if (!Number.isInteger(i) || i < 0 || i >= node.inputs.length || !base.needsGrad[i] || folded[i]) return null;
          const prior = takeGrad(node.inputs[i]!);
          if (prior) inFlight.push((folded[i] = prior));
          return prior;
        },
      };
      // Temporaries of the rule are freed by the tidy; the gradients survive as owned handles.
      let inputGrads: (Tensor | null)[] = [];
      tidy(() => {
        const returned = node.backward(ctx, gOut);
        inputGrads = returned.map((g) => (g ? own(g) : null));
      });
      const checked = checkGradients(node, inputGrads);
      inFlight.push(...checked.filter((g): g is Tensor => g !== null));
      if (options.onNode) {
        const visit: NodeVisit = { node, ctx, gradOutput: gOut, inputGrads: checked, foldedPriors: folded.map((prior, i) => (checked[i] ? prior : null)) };
        tidy(() => options.onNode!(visit));
      }
      node.inputs.forEach((input, i) => {
        const g = checked[i];
        const prior = folded[i];
        if (prior) {
          // Returned without a gradient for the input: the prior goes back to it untouched.
          if (g) prior.dispose();
          else accumulate(input, prior);
        }
        if (!g) return;
        if (input.requiresGrad) accumulate(input, g);
        else g.dispose();
      });
    }
  });
}

type SliceAttrs = OpAttrs['slice'];

/** Pending contributions per tensor before they are summed (and the 6 windows one `windowSum` reads on the WebGPU minimum, plus margin). */
const MAX_PENDING_PARTS = 8;

/** One gradient contribution: full-shape (`window` null) or a window of the tensor's gradient (a slice's). */
interface Part {
  g: Tensor;
  window: SliceAttrs | null;
}

/** A tensor's gradient so far: contributions not yet summed. */
interface Pending {
  parts: Part[];
}

/**
 * The pending gradient as one tensor of `shape`, consuming the entry's handles. One contribution
 * is returned as it is; two full-shape ones take an add; anything else one `windowSum` dispatch
 * per sliced axis: windows (overlapping, with gaps, strided) and full-shape contributions (a
 * window spanning the axis) summed together. q, k and v of a fused projection: one kernel,
 * where padding each and adding took five.
 */
function settle(shape: Shape, entry: Pending): Tensor {
  const parts = entry.parts;
  entry.parts = [];
  if (parts.length === 1 && !parts[0]!.window) return parts[0]!.g;
  let sum: Tensor | null = null;
  try {
    if (shape.length === 0 || (parts.length === 2 && parts.every((p) => !p.window))) {
      // Scalars have no axis to place windows on (and cannot be sliced); a pair takes the plain add.
      for (const { g } of parts) {
        const next: Tensor = sum ? keep(add(sum, g)) : own(g);
        sum?.dispose();
        sum = next;
      }
      return sum!;
    }
    const windowed = parts.filter((p) => p.window);
    const axes = [...new Set(windowed.map((p) => p.window!.axis))];
    if (axes.length === 0) axes.push(0);
    for (const [k, axis] of axes.entries()) {
      // Full-shape contributions go with the first axis: windows spanning it.
      const group = parts
        .filter((p) => (p.window ? p.window.axis === axis : k === 0))
        .map(({ g, window }) => ({ g, start: window?.start ?? 0, step: window?.step ?? 1 }));
      const next: Tensor = keep(wrap(windowSum(shape, axis, group, sum)));
      sum?.dispose();
      sum = next;
    }
    return sum!;
  } catch (error) {
    sum?.dispose();
    throw error;
  } finally {
    for (const { g } of parts) g.dispose();
  }
}

/** A handle on `g`'s data owned by the backward sweep, independent of `g` and of any tidy scope. */
function own(g: Tensor): Tensor {
  const handle = g.savedAlias();
  handle.requiresGrad = false;
  return handle;
}

/** Checks the count and shapes of a backward's gradients; frees them all before throwing. */
function checkGradients(node: Node, grads: (Tensor | null)[]): (Tensor | null)[] {
  let problem: string | null = null;
  if (grads.length !== node.inputs.length) {
    problem = `backward of '${node.op}' returned ${grads.length} gradients for ${node.inputs.length} inputs`;
  } else {
    grads.forEach((g, i) => {
      const input = node.inputs[i]!;
      if (problem || !g || !input.requiresGrad || sameShape(g.shape, input.shape)) return;
      problem =
        `backward of '${node.op}'${node.rule ? ` (rule ${node.rule})` : ''}: gradient for input ${i} has shape ` +
        `${shapeToString(g.shape)}, the input has ${shapeToString(input.shape)}`;
    });
  }
  if (problem) {
    for (const g of grads) g?.dispose();
    throw new Error(problem);
  }
  return grads;
}
