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
  /** The gradient that arrived at the node's output. */
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
    grads.set(root, { sum: seed ? own(seed) : keep(full(root.shape, 1)), windows: [] });

    const entryOf = (target: Tensor): Pending => {
      let entry = grads.get(target);
      if (!entry) grads.set(target, (entry = { sum: null, windows: [] }));
      return entry;
    };

    const accumulate = (target: Tensor, g: Tensor): void => {
      const entry = entryOf(target);
      if (!entry.sum) {
        entry.sum = g;
        return;
      }
      const sum = keep(add(entry.sum, g));
      entry.sum.dispose();
      g.dispose();
      entry.sum = sum;
    };

    // The target's gradient, out of the map: its pending windows assembled (into the sum, if any).
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
        const gOut = takeGrad(node.output);
        if (gOut) {
          inFlight.push(gOut);
          const window = ownSliceWindow(node);
          if (window && node.inputs[0]!.requiresGrad) passWindow(node, window, gOut);
          else runBackward(node, gOut);
          inFlight.length = 0;
          finish(node.output, gOut);
        }
        if (!options.retainGraph) releaseNode(node);
      }
      // Leaves: everything left in the map belongs to tensors without a node.
      for (const t of [...grads.keys()]) {
        const entry = grads.get(t)!;
        // A leaf's earlier grad takes the place of the sum its windows are assembled into.
        if ((t.isLeaf || t.retainsGrad) && t.grad && !entry.sum && entry.windows.length > 0) {
          entry.sum = t.grad;
          t.grad = null;
        }
        const g = takeGrad(t)!;
        finish(t, g);
      }
    } finally {
      // Only reached with anything left when a backward threw: free the gradients in flight.
      for (const g of inFlight) g.dispose();
      for (const entry of grads.values()) disposePending(entry);
    }

    /**
     * A slice under its own backward: the gradient goes to the input as a window, assembled with
     * the input's other contributions when the input's gradient is needed. An observer that reads
     * `inputGrads` gets (and the input receives) the padded gradient instead.
     */
    function passWindow(node: Node, window: SliceAttrs, gOut: Tensor): void {
      const input = node.inputs[0]!;
      // Built even when unused: it refuses a node whose graph was already freed, as for any node.
      const ctx = contextOf(node);
      const part = own(gOut);
      inFlight.push(part);
      let padded: Tensor | null = null;
      if (options.onNode) {
        const visit: NodeVisit = {
          node,
          ctx,
          gradOutput: gOut,
          get inputGrads() {
            if (!padded) {
              padded = keep(wrap(padWindow(part, input.shape, window)));
              inFlight.push(padded);
            }
            return [padded];
          },
          foldedPriors: [null],
        };
        tidy(() => options.onNode!(visit));
      }
      if (padded) {
        part.dispose();
        accumulate(input, padded);
      } else {
        entryOf(input).windows.push({ g: part, window });
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

/** A tensor's gradient so far: a sum of full-shape contributions and windows (slice backwards) not yet assembled. */
interface Pending {
  sum: Tensor | null;
  windows: { g: Tensor; window: SliceAttrs }[];
}

/**
 * The pending gradient as one tensor of `shape`: the windows along each axis assembled into the
 * sum in one `windowSum` dispatch (q, k and v of a fused projection: one kernel, where padding
 * each and adding took five). Consumes the entry's handles.
 */
function settle(shape: Shape, entry: Pending): Tensor {
  let sum = entry.sum;
  const windows = entry.windows;
  entry.sum = null;
  entry.windows = [];
  try {
    for (const axis of new Set(windows.map((w) => w.window.axis))) {
      const parts = windows.filter((w) => w.window.axis === axis).map(({ g, window }) => ({ g, start: window.start, step: window.step }));
      const next = keep(wrap(windowSum(shape, axis, parts, sum)));
      sum?.dispose();
      sum = next;
    }
  } catch (error) {
    sum?.dispose();
    throw error;
  } finally {
    for (const { g } of windows) g.dispose();
  }
  return sum!;
}

function disposePending(entry: Pending): void {
  entry.sum?.dispose();
  for (const { g } of entry.windows) g.dispose();
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
