/**
 * The config.json files of the checkpoints people use, as published (copied key for key), build
 * the right module tree: parameter names and shapes as the safetensors files name them, tied
 * heads without an lm_head, Qwen3's q/k norms and head_dim, Llama 3's rope scaling, Mistral's
 * window, BLOOM's ALiBi. Building allocates nothing on the GPU.
 */
import { describe, expect, it } from 'vitest';
import { ConfigReader, type JsonObject } from '../nn/config.js';
import { buildModel } from '../nn/load.js';
import type { LlamaForCausalLM } from '../nn/models/llama.js';
import type { TransformerModel } from '../nn/models/types.js';

const CONFIGS: Record<string, JsonObject> = {
  'meta-llama/Llama-3.2-1B': {
    architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000, eos_token_id: 128001,
    head_dim: 64, hidden_act: 'silu', hidden_size: 2048, initializer_range: 0.02, intermediate_size: 8192, max_position_embeddings: 131072,
    mlp_bias: false, model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 16, num_key_value_heads: 8, pretraining_tp: 1,
    rms_norm_eps: 1e-5, rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
    rope_theta: 500000.0, tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.45.0.dev0', use_cache: true, vocab_size: 128256,
  },
  'Qwen/Qwen2.5-0.5B': {
    architectures: ['Qwen2ForCausalLM'], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151643, hidden_act: 'silu', hidden_size: 896,
    initializer_range: 0.02, intermediate_size: 4864, max_position_embeddings: 32768, max_window_layers: 24, model_type: 'qwen2',
    num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0, sliding_window: 32768,
    tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.40.1', use_cache: true, use_mrope: false, use_sliding_window: false,
    vocab_size: 151936,
  },
  'Qwen/Qwen3-0.6B': {
    architectures: ['Qwen3ForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645, head_dim: 128,
    hidden_act: 'silu', hidden_size: 1024, initializer_range: 0.02, intermediate_size: 3072, max_position_embeddings: 40960, max_window_layers: 28,
    model_type: 'qwen3', num_attention_heads: 16, num_hidden_layers: 28, num_key_value_heads: 8, rms_norm_eps: 1e-6, rope_scaling: null,
    rope_theta: 1000000, sliding_window: null, tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.51.0', use_cache: true,
    use_sliding_window: false, vocab_size: 151936,
  },
  'HuggingFaceTB/SmolLM2-135M': {
    architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 0, eos_token_id: 0, hidden_act: 'silu',
    hidden_size: 576, initializer_range: 0.041666666666666664, intermediate_size: 1536, is_llama_config: true, max_position_embeddings: 8192,
    model_type: 'llama', num_attention_heads: 9, num_hidden_layers: 30, num_key_value_heads: 3, pretraining_tp: 1, rms_norm_eps: 1e-5,
    rope_interleaved: false, rope_scaling: null, rope_theta: 100000, tie_word_embeddings: true, torch_dtype: 'bfloat16',
    transformers_version: '4.40.1', use_cache: true, vocab_size: 49152,
  },
  'mistralai/Mistral-7B-v0.1': {
    architectures: ['MistralForCausalLM'], bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 4096, initializer_range: 0.02,
    intermediate_size: 14336, max_position_embeddings: 32768, model_type: 'mistral', num_attention_heads: 32, num_hidden_layers: 32,
    num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_theta: 10000.0, sliding_window: 4096, tie_word_embeddings: false, torch_dtype: 'bfloat16',
    transformers_version: '4.34.0.dev0', use_cache: true, vocab_size: 32000,
  },
  'bigscience/bloom-560m': {
    apply_residual_connection_post_layernorm: false, architectures: ['BloomForCausalLM'], attention_dropout: 0.0, attention_softmax_in_fp32: true,
    bias_dropout_fusion: true, bos_token_id: 1, eos_token_id: 2, hidden_dropout: 0.0, hidden_size: 1024, initializer_range: 0.02,
    layer_norm_epsilon: 1e-5, masked_softmax_fusion: true, model_type: 'bloom', n_head: 16, n_inner: null, n_layer: 24, offset_alibi: 100,
    pad_token_id: 3, pretraining_tp: 1, skip_bias_add: true, skip_bias_add_qkv: false, slow_but_exact: false, unk_token_id: 0, use_cache: true,
    vocab_size: 250880,
  },
};

const build = (name: string): TransformerModel => buildModel(new ConfigReader(CONFIGS[name]!, `${name}/config.json`));
const shapes = (m: TransformerModel): Map<string, number[]> => new Map(m.parameters().map((p) => [p.name, p.spec.shape]));
const count = (m: TransformerModel): number => [...new Set(m.parameters())].reduce((n, p) => n + p.spec.shape.reduce((a, b) => a * b, 1), 0);

describe('published configs build the published layouts', () => {
  it('Llama-3.2-1B: llama3 scaling, head_dim 64, GQA 32/8, tied head, 1.24B parameters', () => {
    const m = build('meta-llama/Llama-3.2-1B') as LlamaForCausalLM;
    const s = shapes(m);
    expect(s.get('model.layers.15.self_attn.k_proj.weight')).toEqual([512, 2048]);
    expect(s.has('lm_head.weight')).toBe(false);
    expect(m.lmHead).toBe(m.embed.weight);
    expect(m.rotary.scaling.type).toBe('llama3');
    expect(m.info.maxPositions).toBe(131072);
    expect(count(m)).toBe(1_235_814_400);
  });

  it('Qwen2.5-0.5B: q/k/v biases, no o_proj bias, 494M parameters', () => {
    const s = shapes(build('Qwen/Qwen2.5-0.5B'));
    expect(s.get('model.layers.0.self_attn.q_proj.bias')).toEqual([896]);
    expect(s.get('model.layers.0.self_attn.k_proj.bias')).toEqual([128]);
    expect(s.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
    expect(count(build('Qwen/Qwen2.5-0.5B'))).toBe(494_032_768);
  });

  it('Qwen3-0.6B: head_dim 128 with 16 heads over hidden 1024, q/k norms, 596M parameters', () => {
    const s = shapes(build('Qwen/Qwen3-0.6B'));
    expect(s.get('model.layers.0.self_attn.q_proj.weight')).toEqual([2048, 1024]);
    expect(s.get('model.layers.0.self_attn.o_proj.weight')).toEqual([1024, 2048]);
    expect(s.get('model.layers.27.self_attn.q_norm.weight')).toEqual([128]);
    expect(s.get('model.layers.27.self_attn.k_norm.weight')).toEqual([128]);
    expect(count(build('Qwen/Qwen3-0.6B'))).toBe(596_049_920);
  });

  it('SmolLM2-135M: LLaMA with 9 heads of 64, tied, 135M parameters', () => {
    const m = build('HuggingFaceTB/SmolLM2-135M');
    expect(shapes(m).get('model.layers.29.self_attn.v_proj.weight')).toEqual([192, 576]);
    expect(count(m)).toBe(134_515_008);
  });

  it('Mistral-7B-v0.1: sliding window 4096, untied head, 7.24B parameters', () => {
    const m = build('mistralai/Mistral-7B-v0.1') as LlamaForCausalLM;
    expect(m.slidingWindow).toBe(4096);
    expect(shapes(m).get('lm_head.weight')).toEqual([32000, 4096]);
    expect(count(m)).toBe(7_241_732_096);
  });

  it('bloom-560m: ALiBi, fused q/k/v, embedding LayerNorm, 559M parameters', () => {
    const m = build('bigscience/bloom-560m');
    const s = shapes(m);
    expect(m.info.positional).toBe('alibi');
    expect(s.get('transformer.h.23.self_attention.query_key_value.weight')).toEqual([3072, 1024]);
    expect(s.get('transformer.word_embeddings_layernorm.bias')).toEqual([1024]);
    expect(s.has('lm_head.weight')).toBe(false);
    expect(count(m)).toBe(559_214_592);
  });
});
