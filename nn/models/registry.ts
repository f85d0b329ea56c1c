/** model_type → family. Adding a family is one entry here plus its module file (docs/models.md). */
import { InputError } from '../../kernels/errors.js';
import type { ConfigReader } from '../config.js';
import { BertForSequenceClassification } from './bert.js';
import { BloomForCausalLM } from './bloom.js';
import { GPT2LMHeadModel } from './gpt2.js';
import { LlamaForCausalLM } from './llama.js';
import type { TransformerModel } from './types.js';
import { ViTForImageClassification } from './vit.js';

/** How to build one family and match its checkpoint names. */
export interface Family {
  /** Builds the module tree (no weights) from config.json; throws an InputError on unsupported settings. */
  build: (config: ConfigReader) => TransformerModel;
  /** The prefix HF's base model uses; checkpoints saved from the base model lack it. */
  basePrefix: string;
  /** Checkpoint tensors that are buffers, not parameters, and are ignored (regular expressions). */
  ignored: RegExp[];
}

/** Rotary buffers, and a tied model's copy of the embedding saved as lm_head (HF re-ties it on load). */
const LLAMA_IGNORED = [/\.rotary_emb\.inv_freq$/, /^lm_head\.weight$/];

/** The supported families by `model_type`. */
export const FAMILIES: Readonly<Record<string, Family>> = {
  llama: { build: (c) => new LlamaForCausalLM(c, 'llama'), basePrefix: 'model', ignored: LLAMA_IGNORED },
  mistral: { build: (c) => new LlamaForCausalLM(c, 'mistral'), basePrefix: 'model', ignored: LLAMA_IGNORED },
  qwen2: { build: (c) => new LlamaForCausalLM(c, 'qwen2'), basePrefix: 'model', ignored: LLAMA_IGNORED },
  qwen3: { build: (c) => new LlamaForCausalLM(c, 'qwen3'), basePrefix: 'model', ignored: LLAMA_IGNORED },
  bloom: { build: (c) => new BloomForCausalLM(c), basePrefix: 'transformer', ignored: [/^lm_head\.weight$/] },
  gpt2: { build: (c) => new GPT2LMHeadModel(c), basePrefix: 'transformer', ignored: [/\.attn\.(masked_)?bias$/, /^lm_head\.weight$/] },
  bert: { build: (c) => new BertForSequenceClassification(c), basePrefix: 'bert', ignored: [/position_ids$/] },
  vit: { build: (c) => new ViTForImageClassification(c), basePrefix: 'vit', ignored: [] },
};

/** The family of `modelType`; throws an InputError naming `source` and the supported types otherwise. */
export function familyOf(modelType: string, source: string): Family {
  // An own property only: "__proto__", "constructor" or "toString" must not find Object's members.
  const family = Object.hasOwn(FAMILIES, modelType) ? FAMILIES[modelType] : undefined;
  if (!family) throw new InputError(`${source}: unknown model_type "${modelType}" (supported: ${Object.keys(FAMILIES).join(', ')})`);
  return family;
}
