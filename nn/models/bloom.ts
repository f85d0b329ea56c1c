/**
 * BloomForCausalLM: ALiBi attention biases instead of position embeddings (the fourth PE family),
 * a LayerNorm on the word embeddings, pre-LayerNorm blocks, a fused q/k/v projection laid out per
 * head ([H, 3, D]), tanh-GELU MLP, LM head tied to the word embeddings.
 */
import { InputError } from '../../kernels/errors.js';
import type { Tensor } from '../../autograd/tensor.js';
import { ConfigReader } from '../config.js';
import { SelfAttention } from '../layers/attention.js';
import { Embedding } from '../layers/embedding.js';
import { KvCache } from '../layers/kv-cache.js';
import { GeluMlp } from '../layers/mlp.js';
import { LayerNorm } from '../layers/norm.js';
import { Module, type Parameter } from '../module.js';
import { AlibiBias } from '../positional/alibi.js';
import { tap } from '../taps.js';
import { causalLmLogits, preNormBlock } from './blocks.js';
import { decoderMask } from './masks.js';
import { textShape, type ForwardOptions, type ModelInfo, type ModelInput, type TransformerModel } from './types.js';

/** One pre-LayerNorm block with ALiBi attention. */
export class BloomBlock extends Module {
  /** LayerNorm before attention. */
  readonly inputNorm: LayerNorm;
  /** Self-attention with a fused per-head q/k/v projection. */
  readonly attention: SelfAttention;
  /** LayerNorm before the MLP. */
  readonly postNorm: LayerNorm;
  /** The tanh-GELU MLP (4 × hidden). */
  readonly mlp: GeluMlp;

  constructor(prefix: string, hidden: number, heads: number, eps: number) {
    super(prefix);
    this.inputNorm = this.child(new LayerNorm(this.join('input_layernorm'), hidden, eps));
    this.attention = this.child(
      new SelfAttention(this.join('self_attention'), { hidden, heads, kvHeads: heads, headDim: hidden / heads }, {
        names: { qkv: 'query_key_value', o: 'dense' },
        qkvBias: true,
        outBias: true,
        fusedLayout: 'per-head',
      }),
    );
    this.postNorm = this.child(new LayerNorm(this.join('post_attention_layernorm'), hidden, eps));
    // bloom_gelu is the tanh approximation of GELU (GPT-2's gelu_new).
    this.mlp = this.child(new GeluMlp(this.join('mlp'), { fc: 'dense_h_to_4h', proj: 'dense_4h_to_h' }, hidden, 4 * hidden, 'gelu_new'));
  }
}

/** BLOOM: a causal LM with ALiBi position biases (no position embeddings). */
export class BloomForCausalLM extends Module implements TransformerModel {
  readonly info: ModelInfo;
  /** Word embeddings. */
  readonly embed: Embedding;
  /** LayerNorm on the word embeddings. */
  readonly embedNorm: LayerNorm;
  /** The blocks, paths `layers.<i>`. */
  readonly blocks: BloomBlock[];
  /** Final LayerNorm. */
  readonly lnF: LayerNorm;
  /** The LM head: the word embedding (tied). */
  readonly lmHead: Parameter;
  /** Per-head linear distance biases on the attention scores. */
  readonly alibi: AlibiBias;

  constructor(r: ConfigReader) {
    super('');
    const vocab = r.positiveInt('vocab_size');
    // Early BLOOM configs call the width n_embed.
    const hidden = r.has('n_embed') ? r.positiveInt('n_embed') : r.positiveInt('hidden_size');
    const layers = r.positiveInt('n_layer');
    const heads = r.positiveInt('n_head');
    if (hidden % heads !== 0) throw new InputError(`config.json: hidden_size ${hidden} is not divisible by n_head ${heads}`);
    const eps = r.number('layer_norm_epsilon', 1e-5);
    if (r.bool('apply_residual_connection_post_layernorm', false)) {
      throw new InputError('config.json: apply_residual_connection_post_layernorm is not supported for bloom (the residual must bypass the norms)');
    }
    if (!r.bool('tie_word_embeddings', true)) throw new InputError('config.json: BLOOM with untied word embeddings is not supported');
    // ALiBi has no table and no hard limit; seq_length (the training length) bounds the input.
    const maxPositions = r.positiveInt('seq_length', 2048);
    this.info = {
      modelType: 'bloom',
      architecture: 'BloomForCausalLM',
      kind: 'causal-lm',
      positional: 'alibi',
      vocabSize: vocab,
      hidden,
      layers,
      heads,
      kvHeads: heads,
      maxPositions,
    };
    const prefix = 'transformer';
    this.embed = this.child(new Embedding(`${prefix}.word_embeddings`, vocab, hidden));
    this.embedNorm = this.child(new LayerNorm(`${prefix}.word_embeddings_layernorm`, hidden, eps));
    this.blocks = Array.from({ length: layers }, (_, i) => this.child(new BloomBlock(`${prefix}.h.${i}`, hidden, heads, eps)));
    this.lnF = this.child(new LayerNorm(`${prefix}.ln_f`, hidden, eps));
    this.lmHead = this.embed.weight;
    this.alibi = new AlibiBias(heads);
  }

  /** A key/value cache for generation. */
  kvCache(): KvCache {
    return new KvCache(this.blocks.length);
  }

  forward(input: ModelInput, options: ForwardOptions = {}): Tensor {
    const [B, T] = textShape(input, this.info.architecture);
    const cache = options.cache;
    // With a cache, the ids are positions offset … offset + T − 1 after the cached ones.
    const offset = cache?.length ?? 0;
    if (offset + T > this.info.maxPositions) throw new InputError(`sequence of ${offset + T} positions is longer than seq_length (${this.info.maxPositions})`);
    const tokens = tap('token', 'embeddings.token', this.embed.forward(input.ids!.flat(), [B, T]));
    let x = this.embedNorm.forward(tokens);
    const mask = decoderMask(T, cache ? offset : null, null, input.attentionMask);
    const bias = this.alibi.bias(T, offset);
    this.blocks.forEach((block, i) => {
      const name = `layers.${i}`;
      // Each layer taps its own copy, so relevance is reported per layer, as for rotary tables.
      const layerBias = tap('position-bias', `${name}.alibi`, bias);
      const layerCache = cache?.layer(i) ?? null;
      x = preNormBlock(
        name,
        x,
        (h) => block.attention.forward(block.inputNorm.forward(h), mask, null, layerBias, layerCache),
        (h) => block.mlp.forward(block.postNorm.forward(h)),
      );
    });
    cache?.advance(T);
    return causalLmLogits(this.lnF.forward(x), this.lmHead, options);
  }
}
