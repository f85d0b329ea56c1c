/**
 * Defining ops. An op is a forward (kernels, or other ops under noGrad) and a backward written in
 * tensor ops, declared together. `customOp` is the same mechanism offered to users.
 */
import { activeRule, isGradEnabled, noGrad, type BackwardContext, type BackwardFn, type Node, type ScaledBackwardFn } from './graph.js';
import type { OpAttrs, OpName, OpRole } from './opTypes.js';
import { trackNode } from './scope.js';
import type { Tensor } from './tensor.js';

/** An op: its forward and its backward, declared together (`defineOp`, `customOp`). */
export interface OpDefinition<A> {
  /** Unique among registered ops; graph nodes and rule tables refer to the op by it. */
  name: string;
  /** What the op is to an explanation method (registered ops must declare it; see `OpRole`). */
  role?: OpRole;
  /** Computes the output; runs without recording, so it may use other ops freely. */
  forward: (inputs: readonly Tensor[], attrs: A) => Tensor;
  /** Gradients of the inputs given the output's gradient; null where none is needed. */
  backward: BackwardFn<A>;
  /**
   * The same backward for `factor`·g with the factor folded into its kernels (a product's alpha),
   * so rules that scale the gradient (uniform) cost no extra dispatch. Optional.
   */
  backwardScaled?: ScaledBackwardFn<A>;
}

/** The callable form of an op: inputs and attributes in, output out (recording a node when needed). */
export type OpFn<A> = (inputs: readonly Tensor[], attrs: A) => Tensor;

let nextNodeId = 1;
const registry = new Map<string, OpDefinition<never>>();

/** Names of every registered op (ops are registered once, by name). */
export function registeredOps(): string[] {
  return [...registry.keys()];
}

/** The definition of a registered op: its name is a key of `OpAttrs` and its role is declared. */
export type RegisteredOpDefinition<K extends OpName> = OpDefinition<OpAttrs[K]> & { name: K; role: OpRole };

/**
 * Registers an op and returns its callable form. Names are unique, and each must first be given
 * its attribute type in `OpAttrs` (declaration merging, in the op's own file).
 */
export function defineOp<K extends OpName>(def: RegisteredOpDefinition<K>): OpFn<OpAttrs[K]> {
  if (registry.has(def.name)) throw new Error(`op '${def.name}' is already defined`);
  registry.set(def.name, def as unknown as OpDefinition<never>);
  return (inputs, attrs) => apply(def, inputs, attrs);
}

/** The declared role of a registered op, or undefined for a name that is not registered. */
export function opRole(name: string): OpRole | undefined {
  return registry.get(name)?.role;
}

/**
 * A user-defined op: `forward` may use any ops (it runs without recording) and `backward`
 * supplies the gradients. Unlike `defineOp`, the same name may be created many times.
 */
export function customOp<A = undefined>(def: OpDefinition<A>): OpFn<A> {
  return (inputs, attrs) => apply(def, inputs, attrs);
}

/** A result computed ahead by a fused kernel, waiting for the op call it answers (`offerResult`). */
interface Offer {
  op: string;
  inputs: readonly Tensor[];
  attrs: string;
  output: Tensor;
}
const offers = new WeakMap<Tensor, Offer[]>();

/**
 * Offers `output` as the result of the next call of op `name` on exactly `inputs` (the same
 * tensors, in order) with equal `attrs`: a kernel that computed one of the inputs has already
 * computed it (matmul's epilogue storing the GELU of a linear layer, or adding the attention
 * mask). That call then records the same node it would record anyway, with the same rule, module
 * path and saved tensors, and only skips the forward's dispatch: fusion never changes the graph an
 * explanation sees. An offer that no call takes is freed by its tidy scope like any temporary.
 */
export function offerResult<K extends OpName>(name: K, inputs: readonly Tensor[], attrs: OpAttrs[K], output: Tensor): void {
  const key = inputs[0];
  if (!key) throw new Error(`offerResult: ${name} needs an input`);
  const list = offers.get(key) ?? [];
  list.push({ op: name, inputs: [...inputs], attrs: JSON.stringify(attrs ?? null), output });
  offers.set(key, list);
}

/** The offered result of this call, if a fused kernel made it and it is still alive. */
function takeOffer(name: string, inputs: readonly Tensor[], attrs: unknown): Tensor | null {
  const key = inputs[0];
  const list = key && offers.get(key);
  if (!list) return null;
  const wanted = JSON.stringify(attrs ?? null);
  const i = list.findIndex((o) => o.op === name && o.attrs === wanted && o.inputs.length === inputs.length && o.inputs.every((t, k) => t === inputs[k]));
  if (i < 0) return null;
  const [offer] = list.splice(i, 1);
  if (list.length === 0) offers.delete(key!);
  return offer!.output.disposed ? null : offer!.output;
}

function apply<A>(def: OpDefinition<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  for (const t of inputs) if (t.disposed) throw new Error(`${def.name}: an input tensor was disposed`);
  const record = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  const output = takeOffer(def.name, inputs, attrs) ?? (record ? noGrad(() => def.forward(inputs, attrs)) : def.forward(inputs, attrs));
  // Integer results (argmax, indices) carry no gradient: they stay out of the graph.
  if (!record || output.dtype !== 'f32') return output;

  const rule = activeRule(def.name, def.role);
  const node: Node = {
    id: nextNodeId++,
    op: def.name,
    inputs: [...inputs],
    output,
    // Saved for backward: the node holds its own references to the buffers it reads.
    savedInputs: inputs.map((t) => t.savedAlias()),
    savedOutput: output.savedAlias(),
    attrs,
    backward: (rule?.backward ?? def.backward) as BackwardFn,
    defaultBackward: def.backward as BackwardFn,
    ...(def.backwardScaled ? { scaledBackward: def.backwardScaled as ScaledBackwardFn } : {}),
    rule: rule?.name,
    released: false,
  };
  output.node = node;
  output.requiresGrad = true;
  trackNode(node);
  return output;
}

/** Builds the context a node's backward receives. */
export function contextOf(node: Node): BackwardContext {
  if (node.released) {
    throw new Error(
      `backward through '${node.op}' after its graph was freed: by an earlier backward (pass { retainGraph: true } to keep it), ` +
        `or by the tidy that disposed every tensor that could reach it`,
    );
  }
  const needsGrad = node.inputs.map((t) => t.requiresGrad);
  const scaled = node.scaledBackward;
  const ctx: BackwardContext = {
    op: node.op,
    inputs: node.savedInputs,
    output: node.savedOutput,
    attrs: node.attrs,
    needsGrad,
    defaultBackward: (g) => node.defaultBackward(ctx, g),
    ...(scaled ? { scaledBackward: (g: Tensor, factor: number) => scaled(ctx, g, factor) } : {}),
  };
  return ctx;
}
