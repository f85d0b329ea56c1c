/**
 * A model folder loaded over HTTP, for the explorer: config.json, model.safetensors (or the
 * sharded index and its shards) and tokenizer.json, each fetched whole. Built from the portable
 * pieces of nn/ (config reader, family registry, safetensors parser, tokenizers.js), with the
 * same checks as the file-system loader: every tensor matched by name, shape and dtype before the
 * first upload, non-finite weights refused.
 */
import { Tokenizer } from '@huggingface/tokenizers';
// Classes and anything with state come from the core entry (the bundle the page shares); the two
// pure helpers below are not exported there and are bundled into the page as copies.
import { ConfigReader, familyOf, InputError, parseSafetensors, Tensor, type JsonObject, type SafetensorsFile, type TensorInfo, type TextTokenizer, type TransformerModel } from '../index.js';
import { checkpointLimits } from '../nn/config.js';
import { tokenSpans } from '../nn/offsets.js';

async function fetchOk(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw new InputError(`${url}: HTTP ${response.status}`);
  return response;
}

async function fetchJson(url: string): Promise<JsonObject> {
  const json = (await (await fetchOk(url)).json()) as unknown;
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new InputError(`${url}: must hold a JSON object`);
  return json as JsonObject;
}

/** The checkpoint's files, parsed in memory: one file, or the shards an index names. */
async function fetchCheckpoint(base: string): Promise<{ files: SafetensorsFile[]; tensors: Map<string, { info: TensorInfo; file: SafetensorsFile }> }> {
  const single = await fetch(`${base}model.safetensors`);
  let names: string[];
  let first: Uint8Array | null = null;
  if (single.ok) {
    names = ['model.safetensors'];
    first = new Uint8Array(await single.arrayBuffer());
  } else {
    const index = await fetchJson(`${base}model.safetensors.index.json`);
    const map = index.weight_map;
    if (!map || typeof map !== 'object') throw new InputError(`${base}model.safetensors.index.json: no weight_map`);
    names = [...new Set(Object.values(map as Record<string, unknown>).map(String))].sort();
  }
  const files: SafetensorsFile[] = [];
  for (const name of names) {
    const bytes = first ?? new Uint8Array(await (await fetchOk(`${base}${encodeURIComponent(name)}`)).arrayBuffer());
    first = null;
    files.push(parseSafetensors(bytes, name));
  }
  const tensors = new Map<string, { info: TensorInfo; file: SafetensorsFile }>();
  for (const file of files) for (const [name, info] of file.tensors) tensors.set(name, { info, file });
  return { files, tensors };
}

/** The tokenizer wrapper nn/tokenizer.ts makes, from tokenizer.json's contents. */
function wrapTokenizer(json: JsonObject, config: JsonObject): TextTokenizer {
  const tokenizer = new Tokenizer(json, config);
  const model = json.model as { unk_token?: unknown } | undefined;
  const unkName = typeof model?.unk_token === 'string' ? model.unk_token : typeof config.unk_token === 'string' ? config.unk_token : undefined;
  const unknownId = unkName === undefined ? undefined : tokenizer.token_to_id(unkName);
  const tokenText = (id: number): string => {
    const token = tokenizer.id_to_token(id);
    if (token === undefined) return `#${id}`;
    const piece = tokenizer.decode([id]);
    return piece.length > 0 ? piece : token;
  };
  return {
    encode(text: string) {
      const encoding = tokenizer.encode(text, { return_token_type_ids: true });
      const ids = [...encoding.ids];
      return { ids, tokenTypeIds: [...(encoding.token_type_ids ?? encoding.ids.map(() => 0))], spans: tokenSpans(text, ids.map(tokenText)) };
    },
    tokenId(text: string) {
      const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
      if (ids.length !== 1) return undefined;
      const id = ids[0]!;
      return id === unknownId && text.trim() !== tokenizer.id_to_token(id) ? undefined : id;
    },
    tokenText,
  };
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** Loads the model folder at `base` (a URL ending in `/`) onto the running runtime's device. */
export async function fetchModel(base: string, onProgress?: (done: number, total: number) => void): Promise<TransformerModel> {
  const raw = await fetchJson(`${base}config.json`);
  const config = new ConfigReader(raw, `${base}config.json`);
  const modelType = config.string('model_type');
  const family = familyOf(modelType, `${base}config.json`);
  const checkpoint = await fetchCheckpoint(base);
  const tokenizerResponse = await fetch(`${base}tokenizer.json`);
  let tokenizer: TextTokenizer | undefined;
  if (tokenizerResponse.ok) {
    const configResponse = await fetch(`${base}tokenizer_config.json`);
    const tokenizerConfig = configResponse.ok ? ((await configResponse.json()) as JsonObject) : {};
    tokenizer = wrapTokenizer((await tokenizerResponse.json()) as JsonObject, tokenizerConfig);
  }
  const model = family.build(config.limitTo(checkpointLimits([...checkpoint.tensors.values()].map((t) => t.info)), base));
  const unique = [...new Map(model.parameters().map((p) => [p.name, p])).values()];
  const plan = unique.map((param) => {
    const stripped = param.name.startsWith(`${family.basePrefix}.`) ? param.name.slice(family.basePrefix.length + 1) : null;
    const found = checkpoint.tensors.get(param.name) ?? (stripped !== null ? checkpoint.tensors.get(stripped) : undefined);
    if (!found) throw new InputError(`${base}: tensor ${param.name} is missing from the checkpoint`);
    const want = param.spec.transposeOnLoad ? [...param.spec.shape].reverse() : param.spec.shape;
    if (!sameDims(found.info.shape, want)) throw new InputError(`${base}: tensor ${found.info.name} has shape [${found.info.shape.join(', ')}], config.json implies [${want.join(', ')}]`);
    if (!['F32', 'F16', 'BF16'].includes(found.info.dtype)) throw new InputError(`${base}: tensor ${found.info.name} has dtype ${found.info.dtype}`);
    return { param, found };
  });
  let done = 0;
  try {
    for (const { param, found } of plan) {
      let data = found.file.getFloat32(found.info.name);
      if (data.some((v) => !Number.isFinite(v))) throw new InputError(`${base}: tensor ${found.info.name} holds a non-finite value`);
      if (param.spec.transposeOnLoad) data = transpose2d(data, found.info.shape[0]!, found.info.shape[1]!);
      param.set(Tensor.fromArray(data, param.spec.shape));
      onProgress?.(++done, plan.length);
    }
  } catch (error) {
    model.dispose();
    throw error;
  }
  if (tokenizer) model.tokenizer = tokenizer;
  return model;
}
