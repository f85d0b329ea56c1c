/**
 * config.json of checkpoints people use, key for key as published on the Hugging Face hub (the
 * files themselves are not in the repository). Used by tests/real-configs.test.ts and by the
 * scale benchmark (`npm run bench:model -- --config NAME`), which writes random weights for them.
 */
import type { JsonObject } from '../nn/config.js';

export const PUBLISHED_CONFIGS: Readonly<Record<string, JsonObject>> = {
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

/** The published configs the scale benchmarks run, by short name (`--config NAME`). */
export const BENCH_CONFIGS: Readonly<Record<string, string>> = {
  'SmolLM2-135M': 'HuggingFaceTB/SmolLM2-135M',
  'Qwen2.5-0.5B': 'Qwen/Qwen2.5-0.5B',
  'Qwen3-0.6B': 'Qwen/Qwen3-0.6B',
  'Llama-3.2-1B': 'meta-llama/Llama-3.2-1B',
};
