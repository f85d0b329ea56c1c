/**
 * Reverse-mode sweep: topological order from the root, each node's backward in reverse, gradients
 * accumulated per tensor, leaves' `grad` filled, and each node's saved buffers released as soon as
 * the sweep has passed it (unless `retainGraph`).
 */
import { shapeToString, sameShape } from '../kernels/shape.js';
import { noGrad, releaseNode, type BackwardContext, type Node } from './graph.js';
import { contextOf } from './op.js';
import { keep, tidy } from './scope.js';
import type { Tensor } from './tensor.js';
import { add } from './ops/elementwise.js';
import { full } from './ops/creation.js';

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
  /** What the backward returned, per input (null: none); gradients for inputs that do not need one are dropped. */
  readonly inputGrads: readonly (Tensor | null)[];
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
    // Every gradient in `grads` is a handle owned by this sweep (see `own`): a backward may return
    // its incoming gradient itself (add, copy, sumToShape of a same-shape tensor), the same tensor
    // for two inputs (add), or a tensor someone else holds (a saved input, a constant), so the
    // sweep never disposes a tensor a backward returned, only its own handles on them.
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, seed ? own(seed) : keep(full(root.shape, 1)));

    const accumulate = (target: Tensor, g: Tensor): void => {
      const previous = grads.get(target);
      if (!previous) {
        grads.set(target, g);
        return;
      }
      const sum = keep(add(previous, g));
      previous.dispose();
      g.dispose();
      grads.set(target, sum);
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

    try {
      for (const node of topologicalNodes(root).reverse()) {
        const gOut = grads.get(node.output);
        if (gOut) {
          const ctx = contextOf(node);
          // Temporaries of the rule are freed by the tidy; the gradients survive as owned handles.
          let inputGrads: (Tensor | null)[] = [];
          tidy(() => {
            const returned = node.backward(ctx, gOut);
            inputGrads = returned.map((g) => (g ? own(g) : null));
          });
          const checked = checkGradients(node, inputGrads);
          if (options.onNode) {
            const visit: NodeVisit = { node, ctx, gradOutput: gOut, inputGrads: checked };
            try {
              tidy(() => options.onNode!(visit));
            } catch (error) {
              for (const g of checked) g?.dispose();
              throw error;
            }
          }
          grads.delete(node.output);
          finish(node.output, gOut);
          node.inputs.forEach((input, i) => {
            const g = checked[i];
            if (!g) return;
            if (input.requiresGrad) accumulate(input, g);
            else g.dispose();
          });
        }
        if (!options.retainGraph) releaseNode(node);
      }
      // Leaves: everything left in the map belongs to tensors without a node.
      for (const [t, g] of grads) {
        grads.delete(t);
        finish(t, g);
      }
    } finally {
      // Only reached with entries left when a backward threw: free the gradients in flight.
      for (const g of grads.values()) g.dispose();
    }
  });
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
