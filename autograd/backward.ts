/**
 * Reverse-mode sweep: topological order from the root, each node's backward in reverse, gradients
 * accumulated per tensor, leaves' `grad` filled, and each node's saved buffers released as soon as
 * the sweep has passed it (unless `retainGraph`).
 */
import { shapeToString, sameShape } from '../kernels/shape.js';
import { noGrad, type Node } from './graph.js';
import { contextOf, releaseNode } from './op.js';
import { keep, tidy } from './scope.js';
import { Tensor } from './tensor.js';
import { add } from './ops/elementwise.js';
import { full } from './ops/creation.js';

export interface BackwardOptions {
  /** d(root) seed; required unless the root has exactly one element. */
  seed?: Tensor;
  /** Keep saved buffers so backward can run again over the same graph. */
  retainGraph?: boolean;
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
    throw new Error(`backward: the graph of ${root.toString()} was already freed by an earlier backward (use { retainGraph: true })`);
  }

  noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, seed ? seed : keep(full(root.shape, 1)));
    const owned = new Set<Tensor>(seed ? [] : [grads.get(root)!]);
    const nodes = topologicalNodes(root);

    const accumulate = (target: Tensor, g: Tensor): void => {
      const previous = grads.get(target);
      if (!previous) {
        grads.set(target, g);
        owned.add(g);
        return;
      }
      const sum = keep(add(previous, g));
      if (owned.has(previous)) previous.dispose();
      g.dispose();
      owned.delete(previous);
      owned.add(sum);
      grads.set(target, sum);
    };

    const finish = (t: Tensor, g: Tensor): void => {
      // Leaves and retained non-leaves keep their gradient (summed into any existing grad).
      if (t.isLeaf || t.retainsGrad) {
        if (t.grad) {
          const sum = keep(add(t.grad, g));
          t.grad.dispose();
          t.grad = sum;
        } else {
          t.grad = owned.has(g) ? g : keep(add(g, full([], 0)));
          owned.delete(g);
          return;
        }
      }
      if (owned.has(g)) {
        g.dispose();
        owned.delete(g);
      }
    };

    for (let k = nodes.length - 1; k >= 0; k--) {
      const node = nodes[k]!;
      const gOut = grads.get(node.output);
      if (gOut) {
        const ctx = contextOf(node);
        const inputGrads = tidy(() => node.backward(ctx, gOut));
        if (inputGrads.length !== node.inputs.length) {
          throw new Error(`backward of '${node.op}' returned ${inputGrads.length} gradients for ${node.inputs.length} inputs`);
        }
        grads.delete(node.output);
        finish(node.output, gOut);
        node.inputs.forEach((input, i) => {
          const g = inputGrads[i];
          if (!g) return;
          if (!input.requiresGrad) {
            g.dispose();
            return;
          }
          if (!sameShape(g.shape, input.shape)) {
            throw new Error(
              `backward of '${node.op}'${node.rule ? ` (rule ${node.rule})` : ''}: gradient for input ${i} has shape ` +
                `${shapeToString(g.shape)}, the input has ${shapeToString(input.shape)}`,
            );
          }
          keep(g);
          accumulate(input, g);
        });
      }
      if (!options.retainGraph) releaseNode(node);
    }
    // Leaves: everything left in the map belongs to tensors without a node.
    for (const [t, g] of grads) finish(t, g);
  });
}

declare module './tensor.js' {
  interface Tensor {
    /** Runs reverse-mode differentiation from this tensor (see `backward`). */
    backward(options?: BackwardOptions): void;
  }
}

Tensor.prototype.backward = function (this: Tensor, options?: BackwardOptions): void {
  backward(this, options);
};
