/**
 * LlamaForCausalLM, and the families that share its layout: Qwen2 (q/k/v biases), Qwen3
 * (per-head RMSNorm of q and k) and Mistral (sliding-window attention). Pre-RMSNorm blocks, rotary
 * positions (rotate-half, with `rope_scaling`), grouped-query attention, SwiGLU MLP.
 */
import { InputError } from '../../kernels/errors.js';
import type { Tensor } from '../../autograd/tensor.js';
import { ConfigReader } from '../config.js';
import { Embedding } from '../layers/embedding.js';
import { SelfAttention } from '../layers/attention.js';
import { KvCache } from '../layers/kv-cache.js';
import { ACTIVATIONS, GatedMlp } from '../layers/mlp.js';
import { RMSNorm } from '../layers/norm.js';
import { Module, type Parameter } from '../module.js';
import { readRopeScaling, type RopeScaling } from '../positional/rope-scaling.js';
import { RotaryEmbedding } from '../positional/rotary.js';
import { tap } from '../taps.js';
import { decoderMask } from './masks.js';
import { causalLmLogits, preNormBlock } from './blocks.js';
import { textShape, type ForwardOptions, type ModelInfo, type ModelInput, type TransformerModel } from './types.js';

/** One pre-RMSNorm block: x + attn(norm(x)), then + mlp(norm(·)). */
export class LlamaBlock extends Module {
  /** RMSNorm before attention (`input_layernorm`). */
  readonly inputNorm: RMSNorm;
  /** Grouped-query self-attention with rotary positions (`self_attn`). */
  readonly attention: SelfAttention;
  /** RMSNorm before the MLP (`post_attention_layernorm`). */
  readonly postNorm: RMSNorm;
  /** The SwiGLU MLP. */
  readonly mlp: GatedMlp;

  /**
   * @param prefix checkpoint prefix, `model.layers.<i>`
   * @param c the family's configuration
   */
  constructor(prefix: string, c: LlamaConfig) {
    super(prefix);
    this.inputNorm = this.child(new RMSNorm(this.join('input_layernorm'), c.hidden, c.eps));
    this.attention = this.child(
      new SelfAttention(this.join('self_attn'), c, {
        names: { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj' },
        qkvBias: c.qkvBias,
        outBias: c.outBias,
        ...(c.qkNorm ? { qkNorm: { eps: c.eps } } : {}),
      }),
    );
    this.postNorm = this.child(new RMSNorm(this.join('post_attention_layernorm'), c.hidden, c.eps));
    this.mlp = this.child(new GatedMlp(this.join('mlp'), c.hidden, c.intermediate, c.activation, { bias: c.mlpBias }));
  }
}

/** The LLaMA-family configuration as read from config.json (HF key names in brackets). */
export interface LlamaConfig {
  /** Vocabulary size (`vocab_size`). */
  vocabSize: number;
  /** Model width (`hidden_size`). */
  hidden: number;
  /** Blocks (`num_hidden_layers`). */
  layers: number;
  /** Query heads (`num_attention_heads`). */
  heads: number;
  /** Key/value heads (`num_key_value_heads`; default `heads`). */
  kvHeads: number;
  /** Size of one head (`head_dim`; default hidden / heads). */
  headDim: number;
  /** MLP width (`intermediate_size`). */
  intermediate: number;
  /** RMSNorm epsilon (`rms_norm_eps`; default 1e-6). */
  eps: number;
  /** Rotary base (`rope_theta`; default 10000). */
  theta: number;
  /** Share of each head's dims that is rotated (`partial_rotary_factor`; default 1). */
  partialRotary: number;
  /** Frequency scaling for long contexts (`rope_scaling`). */
  ropeScaling: RopeScaling;
  /** Longest sequence (`max_position_embeddings`; default 2048). */
  maxPositions: number;
  /** Mistral: keys further than this behind a query are masked; null = full causal attention. */
  slidingWindow: number | null;
  /** Per-head RMSNorm of q and k (Qwen3). */
  qkNorm: boolean;
  /** LM head shares the token embedding (`tie_word_embeddings`). */
  tied: boolean;
  /** Biases on q/k/v (Qwen2 always; else `attention_bias`). */
  qkvBias: boolean;
  /** Bias on the output projection (`attention_bias`; never for Qwen2). */
  outBias: boolean;
  /** Biases in the MLP (`mlp_bias`). */
  mlpBias: boolean;
  /** The MLP activation (only SiLU is accepted: `hidden_act`). */
  activation: 'silu';
}

function readConfig(r: ConfigReader, modelType: string): LlamaConfig {
  const hidden = r.positiveInt('hidden_size');
  const heads = r.positiveInt('num_attention_heads');
  const maxPositions = r.positiveInt('max_position_embeddings', 2048);
  // Qwen2/Qwen3 declare a sliding_window they only use with use_sliding_window (per-layer rules
  // that differ across transformers versions): refuse rather than guess.
  // Newer configs also list per-layer attention kinds; only full attention is implemented for Qwen.
  const layerTypes = r.raw['layer_types'];
  const slidingLayers = Array.isArray(layerTypes) && layerTypes.some((t) => t === 'sliding_attention');
  if ((modelType === 'qwen2' || modelType === 'qwen3') && (r.bool('use_sliding_window', false) || slidingLayers)) {
    throw new InputError(`config.json: use_sliding_window is not supported for ${modelType} (sliding-window attention is implemented for mistral only)`);
  }
  const slidingWindow = modelType === 'mistral' && r.has('sliding_window') ? r.positiveInt('sliding_window') : null;
  if (!r.has('head_dim') && hidden % heads !== 0) throw new InputError(`config.json: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads} (and head_dim is not given)`);
  const activation = r.oneOf('hidden_act', ACTIVATIONS, 'silu');
  if (activation !== 'silu') throw new InputError(`config.json: hidden_act "${activation}" is not supported for ${modelType} (silu expected)`);
  return {
    vocabSize: r.positiveInt('vocab_size'),
    hidden,
    layers: r.positiveInt('num_hidden_layers'),
    heads,
    kvHeads: r.positiveInt('num_key_value_heads', heads),
    headDim: r.positiveInt('head_dim', hidden / heads),
    intermediate: r.positiveInt('intermediate_size'),
    eps: r.number('rms_norm_eps', 1e-6),
    theta: r.number('rope_theta', 10000),
    partialRotary: r.number('partial_rotary_factor', 1),
    ropeScaling: readRopeScaling(r, maxPositions),
    maxPositions,
    slidingWindow,
    qkNorm: modelType === 'qwen3',
    tied: r.bool('tie_word_embeddings', false),
    qkvBias: modelType === 'qwen2' ? true : r.bool('attention_bias', false),
    // Qwen2 has q/k/v biases only; LLaMA's attention_bias covers o_proj as well.
    outBias: modelType === 'qwen2' ? false : r.bool('attention_bias', false),
    mlpBias: r.bool('mlp_bias', false),
    activation: 'silu',
  };
}

const ARCHITECTURES: Readonly<Record<string, string>> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
};

/**
 * LLaMA and the families sharing its layout (Qwen2, Qwen3, Mistral): a causal LM with rotary
 * positions, grouped-query attention and SwiGLU MLPs. Built by `loadModel` from config.json.
 */
export class LlamaForCausalLM extends Module implements TransformerModel {
  readonly info: ModelInfo;
  /** Token embedding (`model.embed_tokens`). */
  readonly embed: Embedding;
  /** The blocks, paths `layers.<i>`. */
  readonly blocks: LlamaBlock[];
  /** Final RMSNorm (`model.norm`). */
  readonly norm: RMSNorm;
  /** The LM head, [vocab, hidden]: `lm_head.weight`, or the token embedding when tied. */
  readonly lmHead: Parameter;
  /** Rotary tables shared by every block. */
  readonly rotary: RotaryEmbedding;
  /** Mistral's attention window (keys further behind are masked); null for full causal attention. */
  readonly slidingWindow: number | null;

  /**
   * @param r config.json (throws an InputError on missing or unsupported settings)
   * @param modelType `llama`, `mistral`, `qwen2` or `qwen3`
   */
  constructor(r: ConfigReader, modelType: string) {
    super('');
    const c = readConfig(r, modelType);
    this.rotary = new RotaryEmbedding(c.headDim, c.theta, c.maxPositions, c.partialRotary, c.ropeScaling);
    this.slidingWindow = c.slidingWindow;
    this.info = {
      modelType,
      architecture: ARCHITECTURES[modelType] ?? 'LlamaForCausalLM',
      kind: 'causal-lm',
      positional: 'rotary',
      vocabSize: c.vocabSize,
      hidden: c.hidden,
      layers: c.layers,
      heads: c.heads,
      kvHeads: c.kvHeads,
      maxPositions: this.rotary.maxPositions,
    };
    this.embed = this.child(new Embedding('model.embed_tokens', c.vocabSize, c.hidden));
    this.blocks = Array.from({ length: c.layers }, (_, i) => this.child(new LlamaBlock(`model.layers.${i}`, c)).setPath(`layers.${i}`));
    this.norm = this.child(new RMSNorm('model.norm', c.hidden, c.eps));
    this.lmHead = c.tied ? this.embed.weight : this.child(new Embedding('lm_head', c.vocabSize, c.hidden)).weight;
  }

  /** A key/value cache for generation, or null past the context dynamic NTK scaling was computed for. */
  kvCache(length: number): KvCache | null {
    return this.rotary.cacheable(length) ? new KvCache(this.blocks.length) : null;
  }

  forward(input: ModelInput, options: ForwardOptions = {}): Tensor {
    const [B, T] = textShape(input, this.info.architecture);
    const cache = options.cache;
    // With a cache, the ids are positions offset … offset + T − 1 after the cached ones.
    const offset = cache?.length ?? 0;
    if (cache && !this.rotary.cacheable(offset + T)) throw new InputError('forward: dynamic rope scaling beyond its original context cannot use a key/value cache');
    let x = tap('token', 'embeddings.token', this.embed.forward(input.ids!.flat(), [B, T]));
    const mask = decoderMask(T, cache ? offset : null, this.slidingWindow, input.attentionMask);
    const tables = this.rotary.tables(T, offset);
    this.blocks.forEach((block, i) => {
      const name = `layers.${i}`;
      const rotate = this.rotary.rotation(name, tables);
      const layerCache = cache?.layer(i) ?? null;
      x = preNormBlock(
        name,
        x,
        (h) => block.attention.forward(block.inputNorm.forward(h), mask, rotate, null, layerCache),
        (h) => block.mlp.forward(block.postNorm.forward(h)),
      );
    });
    cache?.advance(T);
    return causalLmLogits(this.norm.forward(x), this.lmHead, options);
  }
}
