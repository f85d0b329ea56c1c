/**
 * Where a model's files come from: the loaders (config, tokenizer, safetensors, shard index) read
 * through this small interface, so one loader serves a folder on disk (Node: nn/folderSource.ts),
 * files held in memory (`filesSource`) and a base URL (`urlSource`, nn/urlSource.ts).
 */
import { InputError } from '../kernels/errors.js';

/** Size caps of the files a model folder may hold (documented in docs/models.md). */
export const MAX_FILE_BYTES = {
  /** config.json, preprocessor_config.json, tokenizer_config.json. */
  config: 16 * 2 ** 20,
  /** model.safetensors.index.json (LLaMA-70B's is 60 KB). */
  shardIndex: 16 * 2 ** 20,
  /** tokenizer.json (the largest common ones, e.g. Gemma's, are about 35 MB). */
  tokenizer: 128 * 2 ** 20,
  /** An input image file (a 50-megapixel PNG of photo content can pass 100 MB). */
  image: 256 * 2 ** 20,
} as const;

/** A file opened for reading byte ranges (a checkpoint too large to hold whole). */
export interface RandomAccessFile {
  /** The file's size in bytes. */
  readonly size: number;
  /** Exactly the bytes `[begin, end)`; throws when the file ends before `end`. */
  read(begin: number, end: number): Promise<Uint8Array>;
}

/** A model's files, by name relative to the model's folder ("config.json", "sub/shard.safetensors"). */
export interface ModelSource {
  /** Names the source in error messages: a folder path, a base URL, or a given name. */
  readonly label: string;
  /** Where file `name` is, for messages: a path or a URL. */
  locate(name: string): string;
  /** Whether the source has a file called `name`. */
  exists(name: string): Promise<boolean>;
  /**
   * The whole of file `name`, refused (InputError) when missing or larger than `maxBytes`;
   * `what` names it in errors ("the model's config.json").
   */
  readFile(name: string, what: string, maxBytes: number): Promise<Uint8Array>;
  /** Opens file `name` for range reads (safetensors files); `what` names it in errors. */
  openFile(name: string, what: string): Promise<RandomAccessFile>;
  /**
   * Refuses a file name that the checkpoint itself names (the shard index's entries) when it
   * would reach outside the model; the loader has already refused `..`, absolute names and
   * the like. A folder checks symlinks here. `referrer` is the file that names it.
   */
  checkReferencedName?(name: string, referrer: string): Promise<void>;
}

/** Bytes as UTF-8 JSON; errors name the file (`path`) and what it is. */
export function parseJsonBytes(bytes: Uint8Array, path: string, what: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(`${path}: ${what} is not valid UTF-8`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError(`${path}: not valid JSON (${(error as Error).message})`);
  }
}

/** A JSON file of the source, at most `maxBytes`. */
export async function readJson(source: ModelSource, name: string, what: string, maxBytes: number): Promise<unknown> {
  return parseJsonBytes(await source.readFile(name, what, maxBytes), source.locate(name), what);
}

/** A JSON file of the source that must hold an object. */
export async function readJsonObject(source: ModelSource, name: string, what: string, maxBytes: number): Promise<Record<string, unknown>> {
  const json = await readJson(source, name, what, maxBytes);
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new InputError(`${source.locate(name)}: must hold a JSON object`);
  return json as Record<string, unknown>;
}

/**
 * A file name the checkpoint names (a shard), which must stay inside the model wherever it is
 * read from: relative, `/`-separated, no `.` or `..` segments, no empty segment, no `\`, `:` or
 * NUL. Returns an error message, or null when the name is fine.
 */
export function unsafeFileName(name: string): string | null {
  if (name.length === 0) return 'is empty';
  if (/[\\:\0]/.test(name) || name.startsWith('/')) return 'is not a file inside the checkpoint folder';
  const parts = name.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return 'is not a file inside the checkpoint folder';
  return null;
}

/** One file's contents in memory: bytes, a `Response` (read once, when first needed) or a `Blob`/`File`. */
export type FileData = ArrayBuffer | Uint8Array | Response | Blob;

/** Reads a `Response` body up to `maxBytes` (+1 to tell an oversized one), without trusting Content-Length. */
export async function readBody(response: Response, path: string, what: string, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new InputError(`${path}: ${what} is ${declared} bytes, more than the limit of ${maxBytes}`);
  }
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new InputError(`${path}: ${what} is more than the limit of ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** A `RandomAccessFile` over bytes in memory. */
export function bytesFile(bytes: Uint8Array, path: string): RandomAccessFile {
  return {
    size: bytes.byteLength,
    async read(begin, end) {
      if (end > bytes.byteLength) throw new InputError(`${path}: file ended early at byte ${bytes.byteLength}`);
      return bytes.subarray(begin, end);
    },
  };
}

/**
 * Model files held in memory, by name: bytes, `Response`s (from `fetch`, a cache, a service
 * worker) or `Blob`s/`File`s (a file picker: only the ranges needed are read). `label` names
 * them in errors.
 *
 * @example
 * ```ts
 * import { readFile } from 'node:fs/promises';
 * import { filesSource, init, loadModelFrom } from 'transformer-lrp';
 *
 * await init();
 * const source = filesSource({
 *   'config.json': await readFile('models/marker-copy/config.json'),
 *   // A Blob (in a browser, the File a file picker gives): only the byte ranges needed are read.
 *   'model.safetensors': new Blob([await readFile('models/marker-copy/model.safetensors')]),
 * });
 * const model = await loadModelFrom(source);
 * model.dispose();
 * ```
 */
export function filesSource(files: Readonly<Record<string, FileData>> | ReadonlyMap<string, FileData>, label = 'in-memory model'): ModelSource {
  const entries = new Map<string, FileData>(files instanceof Map ? files : Object.entries(files as Record<string, FileData>));
  // A Response body can be read once: keep what it held.
  const read = new Map<string, Promise<Uint8Array>>();
  const locate = (name: string): string => `${label}/${name}`;
  const data = (name: string, what: string): FileData => {
    const file = entries.get(name);
    if (file === undefined) throw new InputError(`${locate(name)}: cannot read ${what} (no such file)`);
    return file;
  };
  const bytesOf = (name: string, file: Exclude<FileData, Blob>): Promise<Uint8Array> => {
    if (file instanceof Uint8Array) return Promise.resolve(file);
    if (file instanceof ArrayBuffer) return Promise.resolve(new Uint8Array(file));
    let pending = read.get(name);
    if (!pending) {
      pending = file.arrayBuffer().then((b) => new Uint8Array(b));
      read.set(name, pending);
    }
    return pending;
  };
  return {
    label,
    locate,
    exists: async (name) => entries.has(name),
    async readFile(name, what, maxBytes) {
      const file = data(name, what);
      const size = file instanceof Blob ? file.size : file instanceof Response ? null : file.byteLength;
      if (size !== null && size > maxBytes) throw new InputError(`${locate(name)}: ${what} is ${size} bytes, more than the limit of ${maxBytes}`);
      if (file instanceof Blob) return new Uint8Array(await file.arrayBuffer());
      if (file instanceof Response && !read.has(name)) {
        const pending = readBody(file, locate(name), what, maxBytes);
        read.set(name, pending);
        return pending;
      }
      const bytes = await bytesOf(name, file);
      if (bytes.byteLength > maxBytes) throw new InputError(`${locate(name)}: ${what} is ${bytes.byteLength} bytes, more than the limit of ${maxBytes}`);
      return bytes;
    },
    async openFile(name, what) {
      const file = data(name, what);
      if (file instanceof Blob) {
        return {
          size: file.size,
          async read(begin, end) {
            if (end > file.size) throw new InputError(`${locate(name)}: file ended early at byte ${file.size}`);
            return new Uint8Array(await file.slice(begin, end).arrayBuffer());
          },
        };
      }
      return bytesFile(await bytesOf(name, file), locate(name));
    },
  };
}
