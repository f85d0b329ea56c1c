/**
 * GPT2LMHeadModel: learned absolute positions (or sinusoidal ones with the config flag
 * `"position_embedding_type": "sinusoidal"`), pre-LayerNorm blocks, fused Conv1D q/k/v,
 * GELU (tanh form) MLP, LM head tied to the token embedding.
 */
import { InputError } from '../../kernels/errors.js';
import { add } from '../../autograd/ops/elementwise.js';
import type { Tensor } from '../../autograd/tensor.js';
import { ConfigReader } from '../config.js';
import { SelfAttention } from '../layers/attention.js';
import { Embedding } from '../layers/embedding.js';
import { KvCache } from '../layers/kv-cache.js';
import { ACTIVATIONS, GeluMlp, type Activation } from '../layers/mlp.js';
import { LayerNorm } from '../layers/norm.js';
import { Module, type Parameter } from '../module.js';
import { LearnedPositions } from '../positional/learned.js';
import { SinusoidalPositions } from '../positional/sinusoidal.js';
import { tap } from '../taps.js';
import { causalLmLogits, preNormBlock } from './blocks.js';
import { decoderMask } from './masks.js';
import { textShape, type ForwardOptions, type ModelInfo, type ModelInput, type TransformerModel } from './types.js';

/** One pre-LayerNorm block: x + attn(ln1(x)), then + mlp(ln2(·)). */
export class Gpt2Block extends Module {
  /** LayerNorm before attention (`ln_1`). */
  readonly ln1: LayerNorm;
  /** Self-attention with a fused Conv1D q/k/v projection (`attn`). */
  readonly attention: SelfAttention;
  /** LayerNorm before the MLP (`ln_2`). */
  readonly ln2: LayerNorm;
  /** The GELU MLP (`c_fc`, `c_proj`). */
  readonly mlp: GeluMlp;

  constructor(prefix: string, hidden: number, heads: number, inner: number, eps: number, activation: Activation) {
    super(prefix);
    this.ln1 = this.child(new LayerNorm(this.join('ln_1'), hidden, eps));
    this.attention = this.child(
      new SelfAttention(this.join('attn'), { hidden, heads, kvHeads: heads, headDim: hidden / heads }, {
        names: { qkv: 'c_attn', o: 'c_proj' },
        qkvBias: true,
        outBias: true,
        conv1d: true,
      }),
    );
    this.ln2 = this.child(new LayerNorm(this.join('ln_2'), hidden, eps));
    this.mlp = this.child(new GeluMlp(this.join('mlp'), { fc: 'c_fc', proj: 'c_proj' }, hidden, inner, activation, { conv1d: true }));
  }
}

/** GPT-2: a causal LM with learned (or sinusoidal) absolute positions and a tied LM head. */
export class GPT2LMHeadModel extends Module implements TransformerModel {
  readonly info: ModelInfo;
  /** Token embedding. */
  readonly wte: Embedding;
  /** Absolute positions: learned, or sinusoidal with `"position_embedding_type": "sinusoidal"`. */
  readonly wpe: LearnedPositions | SinusoidalPositions;
  /** The blocks, paths `layers.<i>`. */
  readonly blocks: Gpt2Block[];
  /** Final LayerNorm. */
  readonly lnF: LayerNorm;
  /** The LM head: the token embedding (tied). */
  readonly lmHeadWeight: Parameter;

  constructor(r: ConfigReader) {
    super('');
    const vocab = r.positiveInt('vocab_size');
    const hidden = r.positiveInt('n_embd');
    const layers = r.positiveInt('n_layer');
    const heads = r.positiveInt('n_head');
    if (hidden % heads !== 0) throw new InputError(`config.json: n_embd ${hidden} is not divisible by n_head ${heads}`);
    const maxPositions = r.positiveInt('n_positions', 1024);
    const inner = r.has('n_inner') ? r.positiveInt('n_inner') : 4 * hidden;
    const eps = r.number('layer_norm_epsilon', 1e-5);
    const activation = r.oneOf('activation_function', ACTIVATIONS, 'gelu_new');
    const positional = r.oneOf('position_embedding_type', ['absolute', 'learned', 'sinusoidal'] as const, 'absolute');
    if (!r.bool('tie_word_embeddings', true)) throw new InputError('config.json: GPT-2 with untied word embeddings is not supported');
    this.info = {
      modelType: 'gpt2',
      architecture: 'GPT2LMHeadModel',
      kind: 'causal-lm',
      positional: positional === 'sinusoidal' ? 'sinusoidal' : 'learned',
      vocabSize: vocab,
      hidden,
      layers,
      heads,
      kvHeads: heads,
      maxPositions,
    };
    const prefix = 'transformer';
    this.wte = this.child(new Embedding(`${prefix}.wte`, vocab, hidden));
    this.wpe = positional === 'sinusoidal' ? new SinusoidalPositions(maxPositions, hidden) : this.child(new LearnedPositions(`${prefix}.wpe`, maxPositions, hidden));
    this.blocks = Array.from({ length: layers }, (_, i) => this.child(new Gpt2Block(`${prefix}.h.${i}`, hidden, heads, inner, eps, activation)).setPath(`layers.${i}`));
    this.lnF = this.child(new LayerNorm(`${prefix}.ln_f`, hidden, eps));
    this.lmHeadWeight = this.wte.weight;
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
    const tokens = tap('token', 'embeddings.token', this.wte.forward(input.ids!.flat(), [B, T]));
    const positions = tap('position', 'embeddings.position', this.wpe.positions(T, offset));
    let x = add(tokens, positions);
    const mask = decoderMask(T, cache ? offset : null, null, input.attentionMask);
    this.blocks.forEach((block, i) => {
      const layerCache = cache?.layer(i) ?? null;
      x = preNormBlock(
        `layers.${i}`,
        x,
        (h) => block.attention.forward(block.ln1.forward(h), mask, null, null, layerCache),
        (h) => block.mlp.forward(block.ln2.forward(h)),
      );
    });
    cache?.advance(T);
    return causalLmLogits(this.lnF.forward(x), this.lmHeadWeight, options);
  }
}
