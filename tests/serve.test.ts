/**
 * `lrp serve`'s static server: what it serves (page, bundle, demo and --model files, with HTTP
 * Range), what it refuses (paths outside its table, other hosts, other methods), and the
 * command's usage errors (exit code 2). No browser and no GPU here: tests/explorer.browser.test.ts
 * runs the page itself.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRange, servedName, startExplorerServer, type ExplorerServer } from '../lrp/cli/explorerServer.js';
import { parseServeArgs, runServe, SERVE_USAGE } from '../lrp/cli/serve.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tempdir.js';

const ROOT = resolve(import.meta.dirname, '..');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw GET (no URL normalisation by a client library: `..` and `%2f` reach the server as sent). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end();
  });
}

let server: ExplorerServer;
let secretPath = '';
let assets = '';
const weights = readFileSync(join(ROOT, 'models', 'sentiment', 'model.safetensors'));

beforeAll(async () => {
  assets = tempDir('lrp-serve-assets-');
  mkdirSync(join(assets, 'explorer'));
  writeFileSync(join(assets, 'explorer', 'index.html'), '<!doctype html><title>x</title>');
  writeFileSync(join(assets, 'transformer-lrp.js'), 'export {};');
  // A folder served with --model, holding a file it must not serve and a symlink out of it.
  const outside = tempDir('lrp-serve-outside-');
  secretPath = join(outside, 'secret.txt');
  writeFileSync(secretPath, 'secret');
  const model = tempDir('lrp-serve-model-');
  for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) writeFileSync(join(model, f), readFileSync(join(ROOT, 'models', 'sentiment', f)));
  writeFileSync(join(model, 'notes.txt'), 'private');
  writeFileSync(join(model, 'optimizer.safetensors'), 'private');
  // A Hugging Face cache snapshot is made of symlinks into blobs/: model files that are links are served.
  symlinkSync(join(ROOT, 'models', 'sentiment', 'tokenizer_config.json'), join(model, 'tokenizer_config.json'));
  // The page's folder is listed without following links.
  symlinkSync(secretPath, join(assets, 'leak.js'));
  server = await startExplorerServer({ assetsDir: assets, demoModelsDir: join(ROOT, 'models'), modelDir: model, port: 0 });
});

afterAll(async () => {
  await server?.close();
});

describe('the explorer server', () => {
  it('listens on 127.0.0.1 and redirects / to the page', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/explorer/`);
    const root = await get(server.port, '/');
    expect(root.status).toBe(302);
    expect(root.headers.location).toBe('/explorer/');
    const page = await get(server.port, '/explorer/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body.toString()).toContain('<title>x</title>');
    expect((await get(server.port, '/transformer-lrp.js')).headers['content-type']).toMatch(/^text\/javascript/);
    expect((await get(server.port, '/model/tokenizer_config.json')).body.toString()).toBe(readFileSync(join(ROOT, 'models', 'sentiment', 'tokenizer_config.json'), 'utf8'));
  });

  it('lists the served model first, then the demo models with held-out examples', async () => {
    const list = JSON.parse((await get(server.port, '/models.json')).body.toString()) as { models: { name: string; url: string; served: boolean; examples: { text?: string; label?: number }[] }[] };
    expect(list.models.map((m) => m.served)).toEqual([true, false, false, false, false, false]);
    expect(list.models.slice(1).map((m) => m.name)).toEqual(['first-marked', 'marker-copy', 'marker-half', 'sentiment', 'token-at-k']);
    expect(list.models[0]!.url).toBe('/model/');
    const sentiment = list.models.find((m) => m.name === 'sentiment')!;
    const firstLine = JSON.parse(readFileSync(join(ROOT, 'models', 'sentiment', 'heldout.jsonl'), 'utf8').split('\n')[0]!) as { text: string; label: number };
    expect(sentiment.examples[0]).toMatchObject({ text: firstLine.text, label: firstLine.label });
    expect(sentiment.examples).toHaveLength(5);
  });

  it('serves model files whole and by byte range', async () => {
    const whole = await get(server.port, '/models/sentiment/model.safetensors');
    expect(whole.status).toBe(200);
    expect(whole.headers['accept-ranges']).toBe('bytes');
    expect(whole.body.equals(weights)).toBe(true);
    const part = await get(server.port, '/model/model.safetensors', { range: 'bytes=8-23' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 8-23/${weights.length}`);
    expect(part.body.equals(weights.subarray(8, 24))).toBe(true);
    const suffix = await get(server.port, '/model/model.safetensors', { range: 'bytes=-5' });
    expect(suffix.body.equals(weights.subarray(weights.length - 5))).toBe(true);
    const open = await get(server.port, '/model/model.safetensors', { range: `bytes=${weights.length - 3}-` });
    expect(open.body.equals(weights.subarray(weights.length - 3))).toBe(true);
    const past = await get(server.port, '/model/model.safetensors', { range: `bytes=${weights.length}-` });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${weights.length}`);
    const head = await get(server.port, '/model/config.json', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    expect(head.body.length).toBe(0);
  });

  it('names the served model by its folder, or ORG/NAME in the Hugging Face cache', () => {
    expect(servedName('/data/my-model/')).toBe('my-model');
    expect(servedName('/root/.cache/huggingface/hub/models--HuggingFaceTB--SmolLM2-135M/snapshots/93efa2f/')).toBe('HuggingFaceTB/SmolLM2-135M');
  });

  it('parses byte ranges as RFC 9110 says', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=90-200', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-200', 100)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=5-2', 100)).toBeNull();
    expect(parseRange('bytes=0-1,5-6', 100)).toBeNull();
    expect(parseRange('items=0-1', 100)).toBeNull();
  });

  it('serves nothing outside its table of files', async () => {
    const refused = [
      '/model/notes.txt',
      '/model/optimizer.safetensors',
      '/models/sentiment/heldout.jsonl',
      '/models/sentiment/training_state.json',
      '/models/../package.json',
      '/models/sentiment/../../package.json',
      '/models/sentiment%2f..%2f..%2fpackage.json',
      '/explorer/..%2f..%2fpackage.json',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/model/%2e%2e%2fsecret.txt',
      `/${secretPath}`,
      '/leak.js',
      '/explorer/index.html%00.js',
      '/models/',
      '/model/',
    ];
    for (const path of refused) {
      const reply = await get(server.port, path);
      expect([400, 404], `${path}: ${reply.status}`).toContain(reply.status);
      expect(reply.body.toString()).not.toContain('secret');
    }
  });

  it('answers only requests addressed to this machine, and only GET and HEAD', async () => {
    expect((await get(server.port, '/explorer/', { host: 'attacker.example' })).status).toBe(403);
    expect((await get(server.port, '/explorer/', { host: `localhost:${server.port}` })).status).toBe(200);
    expect((await get(server.port, '/explorer/', {}, 'POST')).status).toBe(405);
  });
});

describe('lrp serve', () => {
  it('prints its usage with --help', async () => {
    const r = await runCli('serve', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${SERVE_USAGE}\n`);
    expect((await runCli('--help')).stdout).toContain('lrp serve [--model DIR|ORG/NAME] [--port N]');
  });

  it.each([
    [['--port', 'http'], /--port must be an integer from 0 to 65535/],
    [['--port', '70000'], /--port must be an integer/],
    [['--port', '-1'], /--port/],
    [['--model', ''], /--model: the folder name is empty/],
    [['--model', '/nonexistent/folder'], /config\.json: not found/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['stray'], /Unexpected argument 'stray'|positional/],
  ])('exits 2 for %j', async (argv, message) => {
    const r = await runCli('serve', ...argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^lrp: /);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('exits 2 when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(runServe(['--port', String(port)], { stdout: { write: () => true }, stderr: { write: () => true } }, { assetsDir: assets })).rejects.toThrow(
        `port ${port} is in use`,
      );
    } finally {
      blocker.close();
    }
  });

  it('prints the URL, serves until stopped, then exits 0', async () => {
    let stdout = '';
    let stop!: () => void;
    const stopped = new Promise<void>((done) => (stop = done));
    const running = runServe(['--port', '0'], { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true } }, { assetsDir: assets, stop: stopped });
    await expect.poll(() => stdout).toMatch(/explorer is at http:\/\/127\.0\.0\.1:\d+\/explorer\//);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(stdout)![1]);
    expect((await get(port, '/explorer/')).status).toBe(200);
    stop();
    expect(await running).toBe(0);
    await expect(get(port, '/explorer/')).rejects.toThrow();
  });

  it('resolves --model to a folder with a config.json', () => {
    expect(parseServeArgs(['--model', join(ROOT, 'models', 'sentiment'), '--port', '0'])).toEqual({ model: join(ROOT, 'models', 'sentiment'), port: 0 });
    expect(parseServeArgs([]).port).toBe(8737);
  });
});
