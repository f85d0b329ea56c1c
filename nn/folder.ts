/**
 * Node only: models read from a folder on disk. Each function is the portable loader (nn/load.ts,
 * nn/safetensors.ts, nn/tokenizer.ts) on `folderSource(dir)`, which keeps the file-system
 * safeguards (nn/folderSource.ts). Importing this installs Dawn as the runtime's starter
 * (kernels/dawn.ts), so `loadModel(dir)` starts the GPU as it always has.
 */
import { join } from 'node:path';
import '../kernels/dawn.js';
import type { ConfigReader } from './config.js';
import { isRegularFile } from './files.js';
import { folderSource } from './folderSource.js';
import { loadModelFrom, readConfigFrom, type LoadOptions } from './load.js';
import type { TransformerModel } from './models/types.js';
import { openCheckpoint, type Checkpoint } from './safetensors.js';
import { loadTokenizerFrom, type TextTokenizer } from './tokenizer.js';

/**
 * Loads a Hugging Face checkpoint folder (config.json, model.safetensors or a sharded index, and
 * tokenizer.json when present) onto the GPU. Everything is validated before the first upload;
 * a bad checkpoint throws `InputError` and leaves nothing allocated.
 *
 * @example
 * ```ts
 * import { init, loadModel } from 'transformer-lrp';
 *
 * await init();
 * const model = await loadModel('models/marker-copy', { onProgress: (done, total) => console.log(done / total) });
 * console.log(model.info.architecture, model.info.vocabSize);  // LlamaForCausalLM …
 * model.dispose();                                             // frees the weights
 * ```
 */
export function loadModel(dir: string, options: LoadOptions = {}): Promise<TransformerModel> {
  return loadModelFrom(folderSource(dir), options);
}

/** The folder's config.json, read (size-capped, regular file only) and wrapped for validated access. */
export function readConfig(dir: string): Promise<ConfigReader> {
  return readConfigFrom(folderSource(dir));
}

/**
 * Opens a Hugging Face checkpoint folder: model.safetensors if present (as transformers prefers
 * it), else model.safetensors.index.json and its shards, which must lie inside the folder. Only
 * headers are read here; tensor data is read from disk on demand.
 */
export function readCheckpoint(dir: string): Promise<Checkpoint> {
  return openCheckpoint(folderSource(dir));
}

/** The folder's tokenizer (tokenizer.json, and tokenizer_config.json when present). */
export function loadTokenizer(dir: string): Promise<TextTokenizer> {
  return loadTokenizerFrom(folderSource(dir));
}

/** Whether `dir` holds a tokenizer.json (a regular file). */
export async function hasTokenizer(dir: string): Promise<boolean> {
  return isRegularFile(join(dir, 'tokenizer.json'));
}
