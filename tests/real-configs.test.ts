/**
 * The config.json files of the checkpoints people use (scripts/published-configs.ts) build
 * the right module tree: parameter names and shapes as the safetensors files name them, tied
 * heads without an lm_head, Qwen3's q/k norms and head_dim, Llama 3's rope scaling, Mistral's
 * window, BLOOM's ALiBi. Building allocates nothing on the GPU.
 */
import { describe, expect, it } from 'vitest';
import { ConfigReader } from '../nn/config.js';
import { buildModel } from '../nn/load.js';
import type { LlamaForCausalLM } from '../nn/models/llama.js';
import type { TransformerModel } from '../nn/models/types.js';
import { PUBLISHED_CONFIGS as CONFIGS } from '../scripts/published-configs.js';


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
