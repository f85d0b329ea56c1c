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
import { ACTIVATIONS, GatedMlp } from '../layers/mlp.js';
import { RMSNorm } from '../layers/norm.js';
import { Module, type Parameter } from '../module.js';
import { readRopeScaling, type RopeScaling } from '../positional/rope-scaling.js';
import { RotaryEmbedding } from '../positional/rotary.js';
import { tap } from '../taps.js';
import { attentionMask } from './masks.js';
import { causalLmLogits, preNormBlock } from './blocks.js';
import { withSlidingWindow } from './sliding-window.js';
import { textShape, type ForwardOptions, type ModelInfo, type ModelInput, type TransformerModel } from './types.js';

export class LlamaBlock extends Module {
  readonly inputNorm: RMSNorm;
  readonly attention: SelfAttention;
  readonly postNorm: RMSNorm;
  readonly mlp: GatedMlp;

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

export interface LlamaConfig {
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  eps: number;
  theta: number;
  partialRotary: number;
  ropeScaling: RopeScaling;
  maxPositions: number;
  /** Mistral: keys further than this behind a query are masked; null = full causal attention. */
  slidingWindow: number | null;
  qkNorm: boolean;
  tied: boolean;
  qkvBias: boolean;
  outBias: boolean;
  mlpBias: boolean;
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

export class LlamaForCausalLM extends Module implements TransformerModel {
  readonly info: ModelInfo;
  readonly embed: Embedding;
  readonly blocks: LlamaBlock[];
  readonly norm: RMSNorm;
  readonly lmHead: Parameter;
  readonly rotary: RotaryEmbedding;
  readonly slidingWindow: number | null;

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

  forward(input: ModelInput, options: ForwardOptions = {}): Tensor {
    const [B, T] = textShape(input, this.info.architecture);
    let x = tap('token', 'embeddings.token', this.embed.forward(input.ids!.flat(), [B, T]));
    const mask = withSlidingWindow(attentionMask(T, true, input.attentionMask), T, this.slidingWindow);
    const tables = this.rotary.tables(T);
    this.blocks.forEach((block, i) => {
      const name = `layers.${i}`;
      const rotate = this.rotary.rotation(name, tables);
      x = preNormBlock(
        name,
        x,
        (h) => block.attention.forward(block.inputNorm.forward(h), mask, rotate),
        (h) => block.mlp.forward(block.postNorm.forward(h)),
      );
    });
    return causalLmLogits(this.norm.forward(x), this.lmHead, options);
  }
}
