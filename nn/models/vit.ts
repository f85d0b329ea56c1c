/**
 * ViTForImageClassification: patches embedded by a matmul (the stride-p convolution written as
 * reshape + linear), a [CLS] token, learned positions, pre-LN blocks, classifier on [CLS].
 */
import { InputError } from '../../kernels/errors.js';
import { add } from '../../autograd/ops/elementwise.js';
import { concat } from '../../autograd/ops/concat.js';
import { linear } from '../../autograd/ops/matmul.js';
import { expand, permute, reshape, slice, squeeze } from '../../autograd/ops/view.js';
import { Tensor } from '../../autograd/tensor.js';
import { ConfigReader } from '../config.js';
import { SelfAttention } from '../layers/attention.js';
import { Linear } from '../layers/linear.js';
import { ACTIVATIONS, GeluMlp, type Activation } from '../layers/mlp.js';
import { LayerNorm } from '../layers/norm.js';
import { Module, type Parameter } from '../module.js';
import { tap } from '../taps.js';
import { preNormBlock } from './blocks.js';
import type { ModelInfo, ModelInput, TransformerModel } from './types.js';

/** One pre-LN encoder block: x + attn(before(x)), then + mlp(after(·)). */
export class VitBlock extends Module {
  /** LayerNorm before attention (`layernorm_before`). */
  readonly before: LayerNorm;
  /** Self-attention. */
  readonly attention: SelfAttention;
  /** LayerNorm before the MLP (`layernorm_after`). */
  readonly after: LayerNorm;
  /** The GELU MLP. */
  readonly mlp: GeluMlp;

  constructor(prefix: string, hidden: number, heads: number, inner: number, eps: number, activation: Activation, qkvBias: boolean) {
    super(prefix);
    this.before = this.child(new LayerNorm(this.join('layernorm_before'), hidden, eps));
    this.attention = this.child(
      new SelfAttention(this.join('attention'), { hidden, heads, kvHeads: heads, headDim: hidden / heads }, {
        names: { q: 'attention.query', k: 'attention.key', v: 'attention.value', o: 'output.dense' },
        qkvBias,
        outBias: true,
      }),
    );
    this.after = this.child(new LayerNorm(this.join('layernorm_after'), hidden, eps));
    this.mlp = this.child(new GeluMlp(prefix, { fc: 'intermediate.dense', proj: 'output.dense' }, hidden, inner, activation));
  }
}

/** ViT: an image classifier over patch embeddings, a [CLS] token and learned positions. */
export class ViTForImageClassification extends Module implements TransformerModel {
  readonly info: ModelInfo;
  /** The [CLS] embedding prepended to the patches, [1, 1, hidden]. */
  readonly clsToken: Parameter;
  /** Learned positions, [CLS] first, [1, patches + 1, hidden]. */
  readonly positionEmbeddings: Parameter;
  /** The patch projection (a stride-p convolution), [hidden, channels, patch, patch]. */
  readonly patchWeight: Parameter;
  /** The patch projection's bias, [hidden]. */
  readonly patchBias: Parameter;
  /** The encoder blocks, paths `layers.<i>`. */
  readonly blocks: VitBlock[];
  /** Final LayerNorm. */
  readonly norm: LayerNorm;
  /** The classifier: the [CLS] position's output → class logits. */
  readonly classifier: Linear;
  private readonly patch: number;
  private readonly channels: number;
  private readonly imageSize: number;

  constructor(r: ConfigReader) {
    super('vit');
    const hidden = r.positiveInt('hidden_size');
    const layers = r.positiveInt('num_hidden_layers');
    const heads = r.positiveInt('num_attention_heads');
    if (hidden % heads !== 0) throw new InputError(`config.json: hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
    const inner = r.positiveInt('intermediate_size');
    const eps = r.number('layer_norm_eps', 1e-12);
    const activation = r.oneOf('hidden_act', ACTIVATIONS, 'gelu');
    this.imageSize = r.positiveInt('image_size', 224);
    this.patch = r.positiveInt('patch_size', 16);
    this.channels = r.positiveInt('num_channels', 3);
    if (this.imageSize % this.patch !== 0) throw new InputError(`config.json: image_size ${this.imageSize} is not a multiple of patch_size ${this.patch}`);
    const qkvBias = r.bool('qkv_bias', true);
    const numLabels = r.numLabels();
    const patches = (this.imageSize / this.patch) ** 2;
    this.info = {
      modelType: 'vit',
      architecture: 'ViTForImageClassification',
      kind: 'classifier',
      positional: 'learned',
      vocabSize: 0,
      hidden,
      layers,
      heads,
      kvHeads: heads,
      maxPositions: patches + 1,
      numLabels,
      labels: r.labels(numLabels),
      image: { size: this.imageSize, patch: this.patch, channels: this.channels },
    };
    this.clsToken = this.parameter('embeddings.cls_token', [1, 1, hidden]);
    this.positionEmbeddings = this.parameter('embeddings.position_embeddings', [1, patches + 1, hidden]);
    this.patchWeight = this.parameter('embeddings.patch_embeddings.projection.weight', [hidden, this.channels, this.patch, this.patch]);
    this.patchBias = this.parameter('embeddings.patch_embeddings.projection.bias', [hidden]);
    this.blocks = Array.from({ length: layers }, (_, i) => this.child(new VitBlock(`vit.encoder.layer.${i}`, hidden, heads, inner, eps, activation, qkvBias)).setPath(`layers.${i}`));
    this.norm = this.child(new LayerNorm('vit.layernorm', hidden, eps));
    this.classifier = this.child(new Linear('classifier', hidden, numLabels));
  }

  forward(input: ModelInput): Tensor {
    const pixels = input.pixelValues;
    if (!pixels) throw new InputError('ViTForImageClassification: the input has no pixelValues');
    const [B, C, H, W] = pixels.shape;
    const S = this.imageSize;
    if (C !== this.channels || H !== S || W !== S) {
      throw new InputError(`ViTForImageClassification: expected pixelValues [B, ${this.channels}, ${S}, ${S}], got [${pixels.shape.join(', ')}]`);
    }
    const p = this.patch;
    const n = S / p;
    const image = Tensor.fromArray(pixels.data, pixels.shape);
    // [B, C, n, p, n, p] → [B, n, n, C, p, p] → [B, n·n, C·p·p]: patch vectors in the conv weight's order.
    const patches = reshape(permute(reshape(image, [B, C, n, p, n, p]), [0, 2, 4, 1, 3, 5]), [B, n * n, C * p * p]);
    image.dispose();
    const hidden = this.info.hidden;
    const embedded = linear(patches, reshape(this.patchWeight.value, [hidden, C * p * p]), this.patchBias.value);
    const cls = expand(this.clsToken.value, [B, 1, hidden]);
    const tokens = tap('token', 'embeddings.token', concat([cls, embedded], 1));
    const positions = tap('position', 'embeddings.position', this.positionEmbeddings.value);
    let x = add(tokens, positions);
    this.blocks.forEach((block, i) => {
      x = preNormBlock(
        `layers.${i}`,
        x,
        (h) => block.attention.forward(block.before.forward(h), null, null),
        (h) => block.mlp.forward(block.after.forward(h)),
      );
    });
    const cls0 = squeeze(slice(this.norm.forward(x), 1, 0, 1), 1);
    return this.classifier.forward(cls0);
  }
}
