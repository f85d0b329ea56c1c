/// <reference types="@webgpu/types" preserve="true" />
/**
 * Models: modules, positional encodings, the four families, loading (from any ModelSource: bytes,
 * Responses, URLs), tokenization. Portable; the folder and image loaders are Node-only (node.ts).
 *
 * @module transformer-lrp/nn
 */
export { Module, Parameter, type ParameterSpec } from './module.js';
export { tap, withTaps, type TapKind, type TapObserver, type TapInfo } from './taps.js';
export { withModulePath, currentModulePath } from './modulePath.js';
export { inBlock } from './models/blocks.js';
export { loadModelFrom, loadModelFromFiles, loadModelFromUrl, buildModel, readConfigFrom, type LoadOptions } from './load.js';
export { LOAD_DTYPES, type WeightDtype } from './upload.js';
export { filesSource, MAX_FILE_BYTES, type ModelSource, type RandomAccessFile, type FileData } from './source.js';
export { urlSource, type UrlSourceOptions } from './urlSource.js';
export { FAMILIES, familyOf, type Family } from './models/registry.js';
export type { TransformerModel, ModelInfo, ModelInput, ForwardOptions, LogitRowHead, ModelKind, PositionalKind } from './models/types.js';
export { LlamaForCausalLM, LlamaBlock, type LlamaConfig } from './models/llama.js';
export { BloomForCausalLM, BloomBlock } from './models/bloom.js';
export { GPT2LMHeadModel, Gpt2Block } from './models/gpt2.js';
export { BertForSequenceClassification, BertBlock } from './models/bert.js';
export { ViTForImageClassification, VitBlock } from './models/vit.js';
export { Linear, type LinearForwardOptions, type LinearOptions } from './layers/linear.js';
export { Embedding } from './layers/embedding.js';
export { LayerNorm, RMSNorm } from './layers/norm.js';
export { KvCache, type LayerKvCache } from './layers/kv-cache.js';
export { SelfAttention, type AttentionShape, type AttentionOptions, type PositionRotation, type ProjectionNames } from './layers/attention.js';
export { GeluMlp, GatedMlp, type Activation } from './layers/mlp.js';
export { LearnedPositions } from './positional/learned.js';
export { SinusoidalPositions } from './positional/sinusoidal.js';
export { RotaryEmbedding } from './positional/rotary.js';
export { AlibiBias, alibiSlopes } from './positional/alibi.js';
export { readRopeScaling, ropeFrequencies, type RopeScaling, type RopeFrequencies } from './positional/rope-scaling.js';
export { toPixelValues, readNormalisationFrom, type Normalisation, type Rgba } from './pixels.js';
export { loadTokenizerFrom, type TextTokenizer, type EncodedText, type TokenSpan } from './tokenizer.js';
export { openCheckpoint, parseSafetensors, SafetensorsError, MAX_HEADER_BYTES, type Checkpoint, type SafetensorsFile, type CheckpointTensorInfo, type SafetensorsDtype, type TensorInfo } from './safetensors.js';
export { MAX_CONFIG_INT, MAX_LAYERS, ConfigReader, type JsonObject, type SizeLimits } from './config.js';
export { serializeSafetensors, safetensorsHeader, tensorByteLength, float32ToBfloat16, type TensorToWrite, type TensorLayout, type WritableDtype } from './safetensorsWriter.js';
export * from './train/index.js';
