/**
 * The trainable view of a model: its unique parameters with host copies of their values (module
 * layout), seeded initialisation, upload as gradient leaves, and conversion to checkpoint layout
 * (GPT-2's Conv1D weights are stored transposed).
 */
import { Tensor } from '../../autograd/tensor.js';
import type { TransformerModel } from '../models/types.js';
import type { Parameter } from '../module.js';
import type { TensorToWrite } from '../safetensorsWriter.js';
import type { Rng } from './rng.js';

/** A model's unique parameters (tied ones once) with host copies of their values, for training. */
export class TrainableParameters {
  /** The parameters, each once. */
  readonly params: Parameter[];
  /** Host values in module layout, one array per parameter. */
  readonly values: Float32Array[];

  /** @param model the model whose parameters are trained */
  constructor(readonly model: TransformerModel) {
    this.params = [...new Map(model.parameters().map((p) => [p.name, p])).values()];
    this.values = this.params.map((p) => new Float32Array(p.spec.shape.reduce((a, b) => a * b, 1)));
  }

  /** Element count of each parameter. */
  get sizes(): number[] {
    return this.values.map((v) => v.length);
  }

  /** Total element count. */
  get count(): number {
    return this.values.reduce((n, v) => n + v.length, 0);
  }

  /** Weight decay applies to matrices and embeddings, not to biases and norm scales. */
  get decays(): boolean[] {
    return this.params.map((p) => p.spec.shape.length >= 2);
  }

  /** Normal(0, std) matrices and embeddings, ones for norm scales, zeros for biases. */
  initialise(rng: Rng, std: number): void {
    this.params.forEach((p, k) => {
      const v = this.values[k]!;
      if (p.spec.shape.length >= 2) for (let i = 0; i < v.length; i++) v[i] = std * rng.normal();
      else v.fill(p.name.endsWith('.bias') ? 0 : 1);
    });
  }

  /** Reads the model's current weights into the host copies (after loading a checkpoint). */
  async download(): Promise<void> {
    for (let k = 0; k < this.params.length; k++) this.values[k]!.set(await this.params[k]!.value.toArray());
  }

  /** Replaces every parameter's tensor with the host values, as leaves that collect gradients. */
  upload(): void {
    this.params.forEach((p, k) => p.set(Tensor.fromArray(this.values[k]!, p.spec.shape).setRequiresGrad()));
  }

  /** The tensors as a checkpoint stores them (HF names and layouts). */
  checkpointTensors(): TensorToWrite[] {
    return this.params.map((p, k) => {
      const shape = p.spec.shape;
      if (!p.spec.transposeOnLoad) return { name: p.name, shape, data: this.values[k]! };
      const [rows, cols] = shape as [number, number];
      const src = this.values[k]!;
      const out = new Float32Array(src.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
      return { name: p.name, shape: [cols, rows], data: out };
    });
  }
}
