/**
 * A model served over HTTP(S) as a ModelSource: `<base>/config.json`, `<base>/model.safetensors`,
 * ... fetched with `fetch`. Safetensors files are read by range (HTTP Range requests: the 8-byte
 * prefix, the header, then each tensor), so a page that explains with a large model never holds
 * the whole checkpoint at once; a server that ignores Range gets one whole-file request per file,
 * kept for the later reads.
 */
import { InputError } from '../kernels/errors.js';
import { bytesFile, readBody, type ModelSource, type RandomAccessFile } from './source.js';

/** How `urlSource` fetches. */
export interface UrlSourceOptions {
  /** The fetch to use (default: the global one); e.g. one that adds credentials or caches. */
  fetch?: typeof fetch;
  /** Passed to every request (headers, credentials, an AbortSignal, ...). */
  init?: RequestInit;
}

/** The files under base URL `base` (a trailing `/` is added when missing) as a ModelSource. */
export function urlSource(base: string | URL, options: UrlSourceOptions = {}): ModelSource {
  const root = new URL(String(base).endsWith('/') ? String(base) : `${String(base)}/`);
  const doFetch = options.fetch ?? ((input: Parameters<typeof fetch>[0], init?: RequestInit) => fetch(input, init));
  const locate = (name: string): string => new URL(name, root).href;
  const request = (name: string, init: RequestInit = {}): Promise<Response> =>
    doFetch(locate(name), { ...options.init, ...init, headers: { ...headerObject(options.init?.headers), ...headerObject(init.headers) } });

  const failed = (name: string, what: string, response: Response): InputError =>
    new InputError(`${locate(name)}: cannot read ${what} (HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''})`);

  return {
    label: root.href,
    locate,
    async exists(name) {
      let response = await request(name, { method: 'HEAD' });
      // Some servers refuse HEAD: ask for the first byte instead.
      if (response.status === 405 || response.status === 501) {
        response = await request(name, { headers: { Range: 'bytes=0-0' } });
        await response.body?.cancel();
      }
      if (response.ok) return true;
      if (response.status === 404 || response.status === 410) return false;
      throw failed(name, name, response);
    },
    async readFile(name, what, maxBytes) {
      const response = await request(name);
      if (!response.ok) {
        await response.body?.cancel();
        throw failed(name, what, response);
      }
      return readBody(response, locate(name), what, maxBytes);
    },
    async openFile(name, what) {
      const head = await request(name, { method: 'HEAD' });
      const length = Number(head.headers.get('content-length') ?? NaN);
      const ranges = head.ok && /\bbytes\b/i.test(head.headers.get('accept-ranges') ?? '') && Number.isSafeInteger(length);
      if (ranges) return rangeFile(name, length, what);
      return wholeFile(name, what);
    },
  };

  /** A file read by HTTP Range requests; falls back to the whole body if the server answers 200. */
  function rangeFile(name: string, size: number, what: string): RandomAccessFile {
    let whole: Promise<RandomAccessFile> | null = null;
    return {
      size,
      async read(begin, end) {
        if (end > size) throw new InputError(`${locate(name)}: file ended early at byte ${size}`);
        if (end === begin) return new Uint8Array(0);
        if (whole) return (await whole).read(begin, end);
        const response = await request(name, { headers: { Range: `bytes=${begin}-${end - 1}` } });
        if (response.status === 200) {
          // The server sent the whole file after all: keep it for every later read.
          whole = readBody(response, locate(name), what, Number.MAX_SAFE_INTEGER).then((bytes) => bytesFile(bytes, locate(name)));
          return (await whole).read(begin, end);
        }
        if (response.status !== 206) {
          await response.body?.cancel();
          throw failed(name, what, response);
        }
        const bytes = new Uint8Array(await response.arrayBuffer());
        if (bytes.byteLength !== end - begin) {
          throw new InputError(`${locate(name)}: asked for bytes ${begin}-${end - 1}, got ${bytes.byteLength} bytes`);
        }
        return bytes;
      },
    };
  }

  /** A file fetched whole once (a server without Range support). */
  async function wholeFile(name: string, what: string): Promise<RandomAccessFile> {
    const response = await request(name);
    if (!response.ok) {
      await response.body?.cancel();
      throw failed(name, what, response);
    }
    return bytesFile(await readBody(response, locate(name), what, Number.MAX_SAFE_INTEGER), locate(name));
  }
}

/** `HeadersInit` as a plain object, so that two can be merged. */
function headerObject(headers: RequestInit['headers']): Record<string, string> {
  if (!headers) return {};
  const out: Record<string, string> = {};
  new Headers(headers).forEach((value, key) => {
    out[key] = value;
  });
  return out;
}
