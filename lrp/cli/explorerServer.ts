/**
 * The explorer's static server (`lrp serve`): the page and the browser bundle, the shipped demo
 * models and optionally one more model folder, on 127.0.0.1 only. The engine runs in the page's
 * WebGPU; this server only hands out files.
 *
 * Every URL is looked up in a table of files built at start-up (exact names, regular files only),
 * so no request path ever reaches the file system: `..`, encoded slashes and symbolic links out
 * of a folder have nothing to match. Model files are served with HTTP Range support, so a loader
 * can read a safetensors header and then single tensors.
 */
import { createReadStream, type Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';

/** Where the explorer's files come from and where it listens. */
export interface ExplorerServerOptions {
  /** The built page and browser bundle (`dist/browser`): `explorer/index.html`, `transformer-lrp.js`, … */
  assetsDir: string;
  /** The shipped demo models' folder (`models/`): each subfolder with a config.json is offered. */
  demoModelsDir?: string;
  /** One more model folder to serve as "the served model" (`lrp serve --model DIR`). */
  modelDir?: string;
  /** TCP port; 0 picks a free one (the default). */
  port?: number;
}

/** A running explorer server. */
export interface ExplorerServer {
  /** The page's address, e.g. `http://127.0.0.1:8737/explorer/`. */
  url: string;
  port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** One model the page can pick: where its files are and a few example inputs. */
export interface ServedModel {
  /** Shown in the model picker: the demo task's name, or the served folder's name. */
  name: string;
  /** Base URL of its files (config.json, tokenizer.json, safetensors), ending in `/`. */
  url: string;
  /** True for the `--model` folder. */
  served: boolean;
  /** Up to five held-out inputs (demo models only): text, ids and the right answer. */
  examples: { text?: string; ids?: number[]; label?: number }[];
}

/** The files of a model folder that a browser loader needs; everything else stays private. */
const MODEL_FILE = /^(config\.json|tokenizer\.json|tokenizer_config\.json|model\.safetensors\.index\.json|[A-Za-z0-9._-]+\.safetensors)$/;
/** Training state is not part of a model (and is not shipped in the package either). */
const PRIVATE_FILE = /^optimizer\.safetensors$/;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};

function contentType(path: string): string {
  const dot = path.lastIndexOf('.');
  return (dot >= 0 ? CONTENT_TYPES[path.slice(dot)] : undefined) ?? 'application/octet-stream';
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

/** Every regular file under `dir`, by its path relative to it (`/`-separated), symlinks not followed. */
async function listTree(dir: string, prefix = ''): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) for (const [k, v] of await listTree(path, `${prefix}${entry.name}/`)) files.set(k, v);
    else if (entry.isFile()) files.set(`${prefix}${entry.name}`, path);
  }
  return files;
}

/** The model files of one folder (symlinks followed: a Hugging Face cache snapshot is made of them). */
async function modelFiles(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of await readdir(dir)) {
    if (MODEL_FILE.test(name) && !PRIVATE_FILE.test(name) && (await isFile(join(dir, name)))) files.set(name, join(dir, name));
  }
  return files;
}

/** The first few lines of a demo model's heldout.jsonl, as example inputs. */
async function examples(dir: string): Promise<ServedModel['examples']> {
  const text = await readFile(join(dir, 'heldout.jsonl'), 'utf8').catch(() => '');
  const out: ServedModel['examples'] = [];
  for (const line of text.split('\n').slice(0, 5)) {
    try {
      const record = JSON.parse(line) as { text?: unknown; ids?: unknown; label?: unknown };
      const example: ServedModel['examples'][number] = {};
      if (typeof record.text === 'string') example.text = record.text;
      if (Array.isArray(record.ids) && record.ids.every((id) => Number.isInteger(id))) example.ids = record.ids as number[];
      if (typeof record.label === 'number') example.label = record.label;
      out.push(example);
    } catch {
      // Not JSON (or the end of the file): no example from this line.
    }
  }
  return out;
}

interface Byterange {
  start: number;
  end: number;
}

/**
 * One `bytes=` range of a file of `size` bytes (RFC 9110 §14.1.2): `a-b`, `a-` or `-n`. Returns
 * null where the header is not a single byte range (the whole file is sent then, as the RFC
 * allows), or 'unsatisfiable' where it starts past the end.
 */
export function parseRange(header: string, size: number): Byterange | null | 'unsatisfiable' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return null;
  return { start, end };
}

function sendFile(req: IncomingMessage, res: ServerResponse, path: string, info: Stats): void {
  const headers: Record<string, string | number> = {
    'Content-Type': contentType(path),
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'no-cache',
    'Last-Modified': info.mtime.toUTCString(),
  };
  const range = req.headers.range !== undefined ? parseRange(req.headers.range, info.size) : null;
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': `bytes */${info.size}` }).end();
    return;
  }
  const { start, end } = range ?? { start: 0, end: info.size - 1 };
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${info.size}`;
  headers['Content-Length'] = Math.max(0, end - start + 1);
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || info.size === 0) {
    res.end();
    return;
  }
  const stream = createReadStream(path, { start, end });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

function sendText(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache' }).end(body);
}

/** The served folder's name: ORG/NAME for a Hugging Face cache snapshot, else the folder's own name. */
export function servedName(dir: string): string {
  const hub = /models--([^/\\]+)--([^/\\]+)[/\\]snapshots[/\\]/.exec(dir);
  if (hub) return `${hub[1]}/${hub[2]}`;
  return basename(dir.replace(/[/\\]+$/, '')) || 'model';
}

/** The demo models (subfolders of `dir` with a config.json), in name order. */
async function demoModels(dir: string): Promise<{ name: string; dir: string }[]> {
  const names = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: { name: string; dir: string }[] = [];
  for (const entry of names.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.isDirectory() && /^[A-Za-z0-9._-]+$/.test(entry.name) && (await isFile(join(dir, entry.name, 'config.json')))) {
      out.push({ name: entry.name, dir: join(dir, entry.name) });
    }
  }
  return out;
}

/**
 * Starts the explorer's server on 127.0.0.1. The page is at `/explorer/`, the browser bundle at
 * `/transformer-lrp.js`, the model list at `/models.json`, demo models under `/models/NAME/` and
 * the `modelDir` folder under `/model/`. Rejects with the listen error (e.g. `EADDRINUSE`).
 */
export async function startExplorerServer(options: ExplorerServerOptions): Promise<ExplorerServer> {
  // The URL → file table: nothing outside it is ever served.
  const files = new Map<string, string>();
  for (const [rel, path] of await listTree(options.assetsDir)) files.set(`/${rel}`, path);
  const models: ServedModel[] = [];
  if (options.modelDir !== undefined) {
    for (const [name, path] of await modelFiles(options.modelDir)) files.set(`/model/${name}`, path);
    models.push({ name: servedName(options.modelDir), url: '/model/', served: true, examples: [] });
  }
  for (const demo of options.demoModelsDir !== undefined ? await demoModels(options.demoModelsDir) : []) {
    for (const [name, path] of await modelFiles(demo.dir)) files.set(`/models/${demo.name}/${name}`, path);
    models.push({ name: demo.name, url: `/models/${demo.name}/`, served: false, examples: await examples(demo.dir) });
  }
  const modelList = `${JSON.stringify({ models })}\n`;

  let port = 0;
  const server: Server = createServer((req, res) => {
    // Only this machine's names: a page on another site that rebinds its DNS name to 127.0.0.1
    // still sends its own Host header, and gets nothing.
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return sendText(res, 403, 'forbidden host\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendText(res, 405, 'method not allowed\n');
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return sendText(res, 400, 'bad request\n');
    }
    if (path === '/') {
      res.writeHead(302, { Location: '/explorer/' }).end();
      return;
    }
    if (path === '/models.json') return sendText(res, 200, modelList, CONTENT_TYPES['.json']);
    const file = files.get(path.endsWith('/') ? `${path}index.html` : path);
    if (file === undefined) return sendText(res, 404, 'not found\n');
    stat(file).then(
      (info) => (info.isFile() ? sendFile(req, res, file, info) : sendText(res, 404, 'not found\n')),
      () => sendText(res, 404, 'not found\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/explorer/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
