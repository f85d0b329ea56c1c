/**
 * BertForSequenceClassification: word + position + token-type embeddings with LayerNorm,
 * post-LN encoder blocks, GELU MLP, tanh pooler on [CLS], linear classifier.
 */
import { InputError } from '../../kernels/errors.js';
import { add, tanh } from '../../autograd/ops/elementwise.js';
import { slice, squeeze } from '../../autograd/ops/view.js';
import type { Tensor } from '../../autograd/tensor.js';
import { ConfigReader } from '../config.js';
import { SelfAttention } from '../layers/attention.js';
import { Embedding } from '../layers/embedding.js';
import { Linear } from '../layers/linear.js';
import { ACTIVATIONS, GeluMlp, type Activation } from '../layers/mlp.js';
import { LayerNorm } from '../layers/norm.js';
import { Module } from '../module.js';
import { LearnedPositions } from '../positional/learned.js';
import { SinusoidalPositions } from '../positional/sinusoidal.js';
import { tap } from '../taps.js';
import { inBlock } from './blocks.js';
import { attentionMask } from './masks.js';
import { textShape, type ModelInfo, type ModelInput, type TransformerModel } from './types.js';

/** One post-LN encoder block: norm(x + attn(x)), then norm(· + mlp(·)). */
export class BertBlock extends Module {
  /** Self-attention (`attention.self`, output `attention.output.dense`). */
  readonly attention: SelfAttention;
  /** LayerNorm after the attention residual. */
  readonly attentionNorm: LayerNorm;
  /** The GELU MLP (`intermediate.dense`, `output.dense`). */
  readonly mlp: GeluMlp;
  /** LayerNorm after the MLP residual. */
  readonly outputNorm: LayerNorm;

  constructor(prefix: string, hidden: number, heads: number, inner: number, eps: number, activation: Activation) {
    super(prefix);
    this.attention = this.child(
      new SelfAttention(this.join('attention'), { hidden, heads, kvHeads: heads, headDim: hidden / heads }, {
        names: { q: 'self.query', k: 'self.key', v: 'self.value', o: 'output.dense' },
        qkvBias: true,
        outBias: true,
      }),
    );
    this.attentionNorm = this.child(new LayerNorm(this.join('attention.output.LayerNorm'), hidden, eps));
    // intermediate.dense and output.dense sit side by side under the layer prefix.
    this.mlp = this.child(new GeluMlp(prefix, { fc: 'intermediate.dense', proj: 'output.dense' }, hidden, inner, activation));
    this.outputNorm = this.child(new LayerNorm(this.join('output.LayerNorm'), hidden, eps));
  }
}

/** BERT with a sequence classifier on the pooled [CLS] position; learned (or sinusoidal) positions. */
export class BertForSequenceClassification extends Module implements TransformerModel {
  readonly info: ModelInfo;
  /** Word embeddings. */
  readonly words: Embedding;
  /** Absolute positions: learned, or sinusoidal with `"position_embedding_type": "sinusoidal"`. */
  readonly positions: LearnedPositions | SinusoidalPositions;
  /** Token-type (segment) embeddings. */
  readonly segments: Embedding;
  /** LayerNorm over the summed embeddings. */
  readonly embeddingNorm: LayerNorm;
  /** The encoder blocks, paths `layers.<i>`. */
  readonly blocks: BertBlock[];
  /** tanh(W·h[CLS] + b): the pooler. */
  readonly pooler: Linear;
  /** Pooled → class logits. */
  readonly classifier: Linear;

  constructor(r: ConfigReader) {
    super('');
    const vocab = r.positiveInt('vocab_size');
    const hidden = r.positiveInt('hidden_size');
    const layers = r.positiveInt('num_hidden_layers');
    const heads = r.positiveInt('num_attention_heads');
    if (hidden % heads !== 0) throw new InputError(`config.json: hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
    const inner = r.positiveInt('intermediate_size');
    const maxPositions = r.positiveInt('max_position_embeddings', 512);
    const typeVocab = r.positiveInt('type_vocab_size', 2);
    const eps = r.number('layer_norm_eps', 1e-12);
    const activation = r.oneOf('hidden_act', ACTIVATIONS, 'gelu');
    const positional = r.oneOf('position_embedding_type', ['absolute', 'sinusoidal'] as const, 'absolute');
    const numLabels = r.numLabels();
    this.info = {
      modelType: 'bert',
      architecture: 'BertForSequenceClassification',
      kind: 'classifier',
      positional: positional === 'sinusoidal' ? 'sinusoidal' : 'learned',
      vocabSize: vocab,
      hidden,
      layers,
      heads,
      kvHeads: heads,
      maxPositions,
      numLabels,
      labels: r.labels(numLabels),
    };
    this.words = this.child(new Embedding('bert.embeddings.word_embeddings', vocab, hidden));
    this.positions = positional === 'sinusoidal' ? new SinusoidalPositions(maxPositions, hidden) : this.child(new LearnedPositions('bert.embeddings.position_embeddings', maxPositions, hidden));
    this.segments = this.child(new Embedding('bert.embeddings.token_type_embeddings', typeVocab, hidden));
    this.embeddingNorm = this.child(new LayerNorm('bert.embeddings.LayerNorm', hidden, eps));
    this.blocks = Array.from({ length: layers }, (_, i) => this.child(new BertBlock(`bert.encoder.layer.${i}`, hidden, heads, inner, eps, activation)).setPath(`layers.${i}`));
    this.pooler = this.child(new Linear('bert.pooler.dense', hidden, hidden));
    this.classifier = this.child(new Linear('classifier', hidden, numLabels));
  }

  forward(input: ModelInput): Tensor {
    const [B, T] = textShape(input, this.info.architecture);
    const words = tap('token', 'embeddings.token', this.words.forward(input.ids!.flat(), [B, T]));
    const segmentIds = input.tokenTypeIds?.flat() ?? new Array<number>(B * T).fill(0);
    const segments = tap('segment', 'embeddings.segment', this.segments.forward(segmentIds, [B, T]));
    const positions = tap('position', 'embeddings.position', this.positions.positions(T));
    let x = this.embeddingNorm.forward(add(add(words, positions), segments));
    const mask = attentionMask(T, false, input.attentionMask);
    this.blocks.forEach((block, i) => {
      const name = `layers.${i}`;
      x = inBlock(name, () => {
        let h = tap('layer-input', name, x);
        h = block.attentionNorm.forward(add(block.attention.forward(h, mask, null), h));
        h = block.outputNorm.forward(add(block.mlp.forward(h), h));
        return tap('layer-output', name, h);
      });
    });
    const cls = squeeze(slice(x, 1, 0, 1), 1);
    return this.classifier.forward(tanh(this.pooler.forward(cls)));
  }
}
