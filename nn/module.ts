/**
 * Module: a node of the model tree with named parameters. Names are the Hugging Face checkpoint
 * names, so loading is a lookup and errors can name the exact tensor.
 */
import type { Tensor } from '../autograd/tensor.js';
import { withModulePath } from './modulePath.js';
import { tap } from './taps.js';

/** How a checkpoint tensor maps onto a parameter. */
export interface ParameterSpec {
  /** Full HF name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  name: string;
  /** Shape the module uses. */
  shape: number[];
  /** GPT-2's Conv1D stores [in, out]; the module wants [out, in]: transpose on load. */
  transposeOnLoad?: boolean;
  /**
   * The module reads this matrix only through kernels that widen 16-bit storage as they load
   * (matrix products, lookups), so an F16 or BF16 checkpoint's values may stay 16-bit on the GPU.
   */
  halfStorage?: boolean;
}

/** A model weight: its checkpoint name and shape, and its tensor (or row blocks) once loaded. */
export class Parameter {
  private tensor: Tensor | null = null;
  /** Row blocks of a matrix too large for one GPU binding (e.g. GPT-2's 50257×768 embedding). */
  private shardList: Tensor[] | null = null;

  /** @param spec the checkpoint name and shape this parameter accepts */
  constructor(readonly spec: ParameterSpec) {}

  /** The full checkpoint name (`spec.name`). */
  get name(): string {
    return this.spec.name;
  }

  /** The loaded tensor (biases through a `bias` tap); throws when not loaded or stored as row blocks. */
  get value(): Tensor {
    if (this.shardList) throw new Error(`parameter ${this.spec.name} is split into row blocks: use rowShards()`);
    if (!this.tensor) throw new Error(`parameter ${this.spec.name} is not loaded`);
    return this.observed(this.tensor);
  }

  /**
   * Biases are read through a tap, so an observer (LRP) can hand the module a per-call leaf over
   * the same data instead of marking the shared parameter: concurrent calls then share no state.
   */
  private observed(t: Tensor): Tensor {
    return this.spec.name.endsWith('.bias') ? tap('bias', this.spec.name, t) : t;
  }

  /** Whether a tensor (or row blocks) was set. */
  get loaded(): boolean {
    return this.tensor !== null || this.shardList !== null;
  }

  /** The parameter as row blocks (one block when it fits one binding). */
  rowShards(): Tensor[] {
    return this.shardList?.map((t) => this.observed(t)) ?? [this.value];
  }

  /** Takes ownership of row blocks that together make the parameter's shape; throws when they do not. */
  setShards(shards: Tensor[]): void {
    const rows = shards.reduce((n, t) => n + t.shape[0]!, 0);
    const cols = this.spec.shape.slice(1);
    if (rows !== this.spec.shape[0] || shards.some((t) => t.shape.slice(1).join() !== cols.join())) {
      throw new Error(`parameter ${this.spec.name}: row blocks do not add up to [${this.spec.shape.join(', ')}]`);
    }
    this.dispose();
    this.shardList = shards;
  }

  /** Takes ownership of `tensor` as the value; throws when its shape is not `spec.shape`. */
  set(tensor: Tensor): void {
    const want = this.spec.shape;
    if (tensor.shape.length !== want.length || tensor.shape.some((d, i) => d !== want[i])) {
      throw new Error(`parameter ${this.spec.name}: got shape [${tensor.shape.join(', ')}], expected [${want.join(', ')}]`);
    }
    this.tensor?.dispose();
    this.tensor = tensor;
  }

  /** Frees the GPU memory: the buffers are destroyed, not parked in the pool (see `Tensor.free`). */
  dispose(): void {
    this.tensor?.free();
    this.tensor = null;
    for (const t of this.shardList ?? []) t.free();
    this.shardList = null;
  }
}

/**
 * A node of the model tree: named parameters and child modules, with Hugging Face checkpoint names
 * (so loading is a lookup), and a path that explanations use to pick rules per module.
 */
export abstract class Module {
  private readonly ownParameters: Parameter[] = [];
  private readonly children: Module[] = [];
  private parent: Module | null = null;
  private pathOverride: string | null = null;

  /** @param prefix HF name prefix of this module, e.g. `model.layers.0.mlp` */
  constructor(readonly prefix: string) {}

  /** The full checkpoint name of `local` under this module's prefix. */
  protected join(local: string): string {
    return this.prefix ? `${this.prefix}.${local}` : local;
  }

  /** Declares a parameter named `local` under this module's prefix (loaded later by name). */
  protected parameter(local: string, shape: number[], options: { transposeOnLoad?: boolean; halfStorage?: boolean } = {}): Parameter {
    const p = new Parameter({ name: this.join(local), shape, ...options });
    this.ownParameters.push(p);
    return p;
  }

  /** Adopts `module` as a child (its parameters and path then belong to this tree) and returns it. */
  protected child<M extends Module>(module: M): M {
    this.children.push(module);
    module.parent = this;
    return module;
  }

  /**
   * The module's path for explanations: its checkpoint prefix, re-rooted at the nearest ancestor
   * that was given a path (blocks are `layers.<i>` in every family), so `layers.3.mlp` names the
   * same module in GPT-2 (`transformer.h.3.mlp`) and LLaMA (`model.layers.3.mlp`).
   */
  get path(): string {
    if (this.pathOverride !== null) return this.pathOverride;
    const parent = this.parent;
    if (!parent) return this.prefix;
    const base = parent.path;
    if (parent.prefix && this.prefix.startsWith(`${parent.prefix}.`)) {
      const rest = this.prefix.slice(parent.prefix.length + 1);
      return base ? `${base}.${rest}` : rest;
    }
    return this.prefix;
  }

  /** Gives this module (and so its descendants) an explanation path, e.g. `layers.3` for a block. */
  setPath(path: string): this {
    this.pathOverride = path;
    return this;
  }

  /** Paths of this module and every descendant, in tree order (for validating user patterns). */
  modulePaths(): string[] {
    return [this.path, ...this.children.flatMap((c) => c.modulePaths())].filter((p) => p !== '');
  }

  /**
   * Runs a forward inside this module's path (rules can be chosen per module while ops record)
   * and taps its result as `module-output`, so an explanation can capture its relevance.
   */
  protected scoped(fn: () => Tensor): Tensor {
    const path = this.path;
    return withModulePath(path, () => tap('module-output', path, fn()));
  }

  /** Every parameter of this module and its descendants. */
  parameters(): Parameter[] {
    return [...this.ownParameters, ...this.children.flatMap((c) => c.parameters())];
  }

  /** Releases every parameter's GPU buffer. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }
}
