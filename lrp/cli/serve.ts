/**
 * `lrp serve [--model DIR|ORG/NAME] [--port N]`: starts the explorer's static server on 127.0.0.1
 * (explorerServer.ts), prints the page's URL and serves until interrupted. The page explains in
 * the browser's WebGPU; this process never touches a GPU.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveModelDir } from '../../nn/hub-cache.js';
import { UsageError } from './args.js';
import { startExplorerServer, type ExplorerServer } from './explorerServer.js';
import { EXIT_OK, type Io } from './failures.js';
import { packageRoot } from './paths.js';

/** `lrp serve --help`. */
export const SERVE_USAGE = `usage: lrp serve [--model DIR|ORG/NAME[@REV]] [--port N]

Opens the explorer: a web page that explains a model in the browser's own WebGPU (nothing is
computed on this machine's GPU). It offers the shipped demo models and, with --model, one more
model folder (config.json, tokenizer.json, safetensors). The server listens on 127.0.0.1 only
and prints the page's URL; stop it with Ctrl-C.

  --model DIR   also serve this model folder (or a model in the local Hugging Face cache)
  --port N      the port to listen on (default 8737; 0 picks a free one)

Exit codes: 0 stopped by Ctrl-C; 2 bad input (unknown option, a folder without config.json, a
port in use); 3 internal error (e.g. the explorer was not built: npm run build).`;

/** The default port: fixed, so a bookmark keeps working; `--port 0` picks a free one. */
export const DEFAULT_SERVE_PORT = 8737;

/** Parsed `lrp serve` arguments. */
export interface ServeArgs {
  model?: string;
  port: number;
}

/** Parses `lrp serve`'s arguments; every mistake is a UsageError (exit code 2). */
export function parseServeArgs(argv: string[]): ServeArgs {
  let values: { model?: string; port?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { model: { type: 'string' }, port: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError(`serve: ${(error as Error).message}\n${SERVE_USAGE}`);
  }
  let port = DEFAULT_SERVE_PORT;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^[0-9]+$/.test(values.port) || port > 65535) throw new UsageError(`serve: --port must be an integer from 0 to 65535, got "${values.port}"`);
  }
  const args: ServeArgs = { port };
  if (values.model !== undefined) {
    if (values.model === '') throw new UsageError('serve: --model: the folder name is empty');
    const dir = resolveModelDir(values.model);
    if (!existsSync(join(dir, 'config.json'))) throw new UsageError(`serve: ${join(dir, 'config.json')}: not found (--model takes a Hugging Face model folder)`);
    args.model = dir;
  }
  return args;
}

/** The built page and bundle (`npm run build` writes them), or an error saying so. */
function assetsDir(): string {
  const dir = join(packageRoot(), 'dist', 'browser');
  if (!existsSync(join(dir, 'explorer', 'index.html'))) throw new Error(`the explorer is not built (${join(dir, 'explorer', 'index.html')} is missing): run npm run build`);
  return dir;
}

/** What a caller other than the command line may set (tests). */
export interface ServeRunOptions {
  /** Stop serving when this resolves (default: the first SIGINT or SIGTERM). */
  stop?: Promise<unknown>;
  /** The built page and bundle (default: the package's dist/browser). */
  assetsDir?: string;
}

/**
 * Runs `lrp serve`: starts the server, prints the URL on stdout and resolves with exit code 0
 * once it is stopped (Ctrl-C).
 */
export async function runServe(argv: string[], io: Io, options: ServeRunOptions = {}): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(`${SERVE_USAGE}\n`);
    return EXIT_OK;
  }
  const args = parseServeArgs(argv);
  let server: ExplorerServer;
  try {
    server = await startExplorerServer({ assetsDir: options.assetsDir ?? assetsDir(), demoModelsDir: join(packageRoot(), 'models'), ...(args.model !== undefined ? { modelDir: args.model } : {}), port: args.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`serve: port ${args.port} is in use: choose another with --port N (0 picks a free one)`);
    if (code === 'EACCES') throw new UsageError(`serve: port ${args.port} needs privileges: choose one above 1023 with --port N`);
    throw error;
  }
  io.stdout.write(`lrp: the explorer is at ${server.url}${args.model !== undefined ? ` (serving ${args.model})` : ''}\nlrp: open it in a browser with WebGPU (Chrome or Edge 113+); Ctrl-C stops the server\n`);
  await (options.stop ??
    new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }));
  await server.close();
  return EXIT_OK;
}
