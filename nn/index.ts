/// <reference types="@webgpu/types" preserve="true" />
/** Models: modules, positional encodings, the four families, loading, tokenization, images. */
export { Module, Parameter, type ParameterSpec } from './module.js';
export { tap, withTaps, type TapKind, type TapObserver, type TapInfo } from './taps.js';
export { withModulePath, currentModulePath } from './modulePath.js';
export { inBlock } from './models/blocks.js';
export { loadModel, buildModel, readConfig, type LoadOptions } from './load.js';
export { FAMILIES, familyOf, type Family } from './models/registry.js';
export type { TransformerModel, ModelInfo, ModelInput, ForwardOptions, ModelKind, PositionalKind } from './models/types.js';
export { LlamaForCausalLM } from './models/llama.js';
export { GPT2LMHeadModel } from './models/gpt2.js';
export { BertForSequenceClassification } from './models/bert.js';
export { ViTForImageClassification } from './models/vit.js';
export { Linear } from './layers/linear.js';
export { Embedding } from './layers/embedding.js';
export { LayerNorm, RMSNorm } from './layers/norm.js';
export { SelfAttention } from './layers/attention.js';
export { GeluMlp, GatedMlp } from './layers/mlp.js';
export { LearnedPositions } from './positional/learned.js';
export { SinusoidalPositions } from './positional/sinusoidal.js';
export { RotaryEmbedding } from './positional/rotary.js';
export { loadTokenizer, hasTokenizer, type TextTokenizer } from './tokenizer.js';
export { loadImage, decodeImage, toPixelValues, readNormalisation, MAX_IMAGE_PIXELS, type Normalisation } from './image.js';
export { readCheckpoint, parseSafetensors, SafetensorsError, MAX_HEADER_BYTES, type Checkpoint } from './safetensors.js';
export { MAX_FILE_BYTES } from './files.js';
export { MAX_CONFIG_INT, MAX_LAYERS } from './config.js';
export { serializeSafetensors, type TensorToWrite } from './safetensorsWriter.js';
export * from './train/index.js';
