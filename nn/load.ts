/**
 * Loading a model from any ModelSource (nn/source.ts): config.json + safetensors (single or
 * sharded) → a model on the GPU. Everything is validated before the first upload (names, shapes,
 * dtypes), weights are streamed to the GPU piece by piece (upload.ts), and a failure during upload
 * releases what was uploaded: nothing half-loaded is ever returned. The checkpoint's headers are
 * read before the model is built, so config sizes are bounded by its tensors (config.ts) and a
 * hostile config cannot make the build itself run away.
 *
 * Portable: in Node, `loadModel(dir)` (nn/folder.ts) is this on a folder; `loadModelFromFiles`
 * and `loadModelFromUrl` are this on bytes in memory and on a base URL.
 */
import { InputError } from '../kernels/errors.js';
import { initRuntime } from '../kernels/runtime.js';
import { ConfigReader, checkpointLimits, type JsonObject } from './config.js';
import { familyOf } from './models/registry.js';
import type { TransformerModel } from './models/types.js';
import type { Parameter } from './module.js';
import { openCheckpoint, type CheckpointTensorInfo } from './safetensors.js';
import { filesSource, MAX_FILE_BYTES, readJson, type FileData, type ModelSource } from './source.js';
import { loadTokenizerFrom } from './tokenizer.js';
import { urlSource, type UrlSourceOptions } from './urlSource.js';
import { checkWeightDtype, uploadWeights, type WeightDtype } from './upload.js';

/** Options of `loadModel`. */
export interface LoadOptions {
  /** Called after each tensor is uploaded, with the GPU bytes uploaded so far and in all. */
  onProgress?: (loadedBytes: number, totalBytes: number, tensor: string) => void;
  /**
   * How weights are held on the GPU (default `auto`): `auto` keeps the matrices of an F16 or BF16
   * checkpoint 16-bit (half the memory; kernels widen each value to f32 exactly as they read it,
   * so results are the same), `f32` widens every weight at load.
   */
  dtype?: WeightDtype;
  /**
   * Attach the folder's tokenizer.json as `model.tokenizer` when there is one (default true). A
   * tokenizer.json that is present but unreadable fails the load (InputError).
   */
  tokenizer?: boolean;
}

const WEIGHT_DTYPES = new Set(['F32', 'F16', 'BF16']);

/** The source's config.json, read (size-capped) and wrapped for validated access. */
export async function readConfigFrom(source: ModelSource): Promise<ConfigReader> {
  const path = source.locate('config.json');
  const raw = await readJson(source, 'config.json', "the model's config.json", MAX_FILE_BYTES.config);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`${path}: must hold a JSON object`);
  return new ConfigReader(raw as JsonObject, path);
}

/** Builds the model's module tree from config.json alone (no weights). */
export function buildModel(config: ConfigReader): TransformerModel {
  const modelType = config.string('model_type');
  return familyOf(modelType, 'config.json').build(config);
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Loads a Hugging Face checkpoint (config.json, model.safetensors or a sharded index, and
 * tokenizer.json when present) from any ModelSource onto the GPU, starting the runtime if needed.
 * Everything is validated before the first upload; a bad checkpoint throws `InputError` and
 * leaves nothing allocated.
 */
export async function loadModelFrom(source: ModelSource, options: LoadOptions = {}): Promise<TransformerModel> {
  // Names the model in messages: the folder, the URL, or the in-memory label.
  const dir = source.label;
  const dtype = checkWeightDtype(options.dtype ?? 'auto', 'loadModel: options.dtype');
  const config = await readConfigFrom(source);
  const modelType = config.string('model_type');
  const family = familyOf(modelType, source.locate('config.json'));
  const checkpoint = await openCheckpoint(source);
  // Read before any upload: a broken tokenizer.json fails the load before the GPU is touched.
  const tokenizer = options.tokenizer !== false && (await source.exists('tokenizer.json')) ? await loadTokenizerFrom(source) : undefined;
  const model = family.build(config.limitTo(checkpointLimits(checkpoint.tensors.values()), dir));

  // Match every parameter with a checkpoint tensor (the base-model prefix may be absent).
  const params = model.parameters();
  const unique = [...new Map(params.map((p) => [p.name, p])).values()];
  const plan: { param: Parameter; info: CheckpointTensorInfo }[] = [];
  const used = new Set<string>();
  const missing: string[] = [];
  for (const param of unique) {
    const stripped = param.name.startsWith(`${family.basePrefix}.`) ? param.name.slice(family.basePrefix.length + 1) : null;
    const info = checkpoint.tensors.get(param.name) ?? (stripped !== null ? checkpoint.tensors.get(stripped) : undefined);
    if (!info) {
      missing.push(param.name);
      continue;
    }
    used.add(info.name);
    const want = param.spec.transposeOnLoad ? [...param.spec.shape].reverse() : param.spec.shape;
    if (!sameDims(info.shape, want)) {
      throw new InputError(`${dir}: tensor ${info.name} has shape [${info.shape.join(', ')}], but config.json implies [${want.join(', ')}]`);
    }
    if (!WEIGHT_DTYPES.has(info.dtype)) throw new InputError(`${dir}: tensor ${info.name} has dtype ${info.dtype}; weights must be F32, F16 or BF16`);
    plan.push({ param, info });
  }
  if (missing.length > 0) {
    throw new InputError(`${dir}: ${missing.length} tensor(s) missing from the checkpoint: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
  }
  const extra = [...checkpoint.tensors.keys()].filter((name) => !used.has(name) && !family.ignored.some((re) => re.test(name)));
  if (extra.length > 0) {
    throw new InputError(`${dir}: ${extra.length} unexpected tensor(s) in the checkpoint: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`);
  }

  const rt = await initRuntime();
  try {
    await uploadWeights(rt, checkpoint, plan, { dtype, source: dir, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
  } catch (error) {
    model.dispose();
    throw error;
  }
  if (tokenizer) model.tokenizer = tokenizer;
  return model;
}

/**
 * Loads a model from files held in memory, by name as in the model's folder ('config.json',
 * 'model.safetensors', 'tokenizer.json', a shard index and its shards): bytes, `Response`s or
 * `Blob`s/`File`s (only the byte ranges needed are read from a Blob).
 *
 * @example
 * ```ts
 * import { readFile } from 'node:fs/promises';
 * import { init, loadModelFromFiles } from 'transformer-lrp';
 *
 * await init(); // in a browser: useDevice(device), or init() on navigator.gpu
 * const model = await loadModelFromFiles({
 *   'config.json': await readFile('models/marker-copy/config.json'), // or a Response: await fetch(url)
 *   'model.safetensors': await readFile('models/marker-copy/model.safetensors'),
 * });
 * console.log(model.info.architecture); // LlamaForCausalLM
 * model.dispose();
 * ```
 */
export function loadModelFromFiles(
  files: Readonly<Record<string, FileData>> | ReadonlyMap<string, FileData>,
  options: LoadOptions & { label?: string } = {},
): Promise<TransformerModel> {
  return loadModelFrom(filesSource(files, options.label), options);
}

/**
 * Loads a model from a base URL whose files are laid out as the model's folder
 * (`<url>/config.json`, `<url>/model.safetensors`, ...), with `fetch`. Tensors are read with HTTP
 * Range requests where the server honours them, else each file is fetched whole once.
 *
 * @example
 * ```ts
 * import { init, loadModelFromUrl } from 'transformer-lrp';
 * // not run: needs a server with the model's files (`lrp serve` is one)
 *
 * await init();
 * const model = await loadModelFromUrl('https://example.org/models/marker-copy/');
 * ```
 */
export function loadModelFromUrl(url: string | URL, options: LoadOptions & UrlSourceOptions = {}): Promise<TransformerModel> {
  return loadModelFrom(urlSource(url, options), options);
}
