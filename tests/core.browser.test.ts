/**
 * The portable core in a browser tab: index.ts bundled by esbuild for the browser, loaded by
 * headless Chromium with WebGPU (its own SwiftShader adapter here), started with `init()` on
 * `navigator.gpu`, a fixture model loaded with `loadModelFromUrl` from a server on 127.0.0.1 that
 * honours Range requests. Its logits must match PyTorch's, and its PA-LRP explanation the one
 * Node computes on Dawn for the same model and input.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../lrp/explain.js';
import { loadModel } from '../nn/folder.js';
import { gpu } from './helpers/gpu.js';
import { expectClose } from './helpers/close.js';
import { flatten, modelDir, readReference } from './helpers/fixtures.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const root = resolve(import.meta.dirname, '..');

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import * as lrp from './core.js';
window.run = async (ids) => {
  const rt = await lrp.init();
  const model = await lrp.loadModelFromUrl(new URL('./model/', location.href));
  const logits = lrp.noGrad(() => lrp.tidy(() => model.forward({ ids })));
  const values = Array.from(await logits.toArray());
  const e = await lrp.explain(model, { ids: [ids[0]] }, { method: 'pa-lrp' });
  return { adapter: rt.adapterInfo, hasGpu: 'gpu' in navigator, values, tokens: e.tokens.map((t) => t.token), positions: e.tokens.map((t) => t.position), output: e.conservation.output };
};
window.ready = true;
</script>`;

interface PageResult {
  adapter: { vendor: string; architecture: string };
  values: number[];
  tokens: number[];
  positions: number[];
  output: number;
}

it.runIf(process.env.CI)('finds Chromium in CI', () => {
  expect(haveChromium, `Chromium not found at ${CHROMIUM}`).toBe(true);
});

describe.skipIf(!haveChromium && !process.env.CI)('the portable core in headless Chromium', () => {
  let server: Server;
  let browser: Browser;
  let base = '';
  const ranges: string[] = [];

  beforeAll(async () => {
    const bundle = await build({ entryPoints: [join(root, 'index.ts')], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' });
    const core = bundle.outputFiles[0]!.contents;
    const fixture = modelDir('gpt2');
    server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      let body: Uint8Array;
      let type = 'application/octet-stream';
      if (path === '/') [body, type] = [new TextEncoder().encode(PAGE), 'text/html'];
      else if (path === '/core.js') [body, type] = [core, 'text/javascript'];
      else if (path.startsWith('/model/') && !path.includes('..') && existsSync(join(fixture, path.slice(7)))) body = readFileSync(join(fixture, path.slice(7)));
      else {
        res.writeHead(404).end();
        return;
      }
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (m) {
        ranges.push(path);
        const begin = Number(m[1]);
        const end = Math.min(Number(m[2]), body.length - 1);
        res.writeHead(206, { 'content-type': type, 'content-length': end - begin + 1, 'accept-ranges': 'bytes' });
        res.end(req.method === 'HEAD' ? undefined : body.subarray(begin, end + 1));
        return;
      }
      res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'accept-ranges': 'bytes' });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--enable-unsafe-webgpu', '--no-first-run', '--disable-background-networking'] });
    await gpu();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((done) => server?.close(done));
  });

  it('runs the GPT-2 fixture on navigator.gpu: PyTorch logits, and the explanation Node gives', async () => {
    const page = await browser.newPage();
    await page.goto(base);
    await page.waitForFunction('window.ready === true');
    const ref = readReference('gpt2');
    const got = (await page.evaluate(`window.run(${JSON.stringify(ref.input_ids)})`)) as PageResult;
    await page.close();
    expect(got.adapter.architecture.length + got.adapter.vendor.length).toBeGreaterThan(0);
    expectClose(got.values, flatten(ref.logits), { rtol: 1e-4, atol: 1e-4 }, 'gpt2 logits in Chromium');
    expect(ranges.some((p) => p.endsWith('model.safetensors'))).toBe(true);

    const model = await loadModel(modelDir('gpt2'));
    const e = await explain(model, { ids: [ref.input_ids![0]!] }, { method: 'pa-lrp' });
    model.dispose();
    const scale = Math.abs(e.conservation.output);
    expect(Math.abs(got.output - e.conservation.output)).toBeLessThan(1e-4 * scale);
    expect(got.tokens).toHaveLength(e.tokens.length);
    e.tokens.forEach((t, i) => {
      expect(Math.abs(got.tokens[i]! - t.token), `token relevance ${i}`).toBeLessThan(1e-4 * scale);
      expect(Math.abs(got.positions[i]! - t.position), `position relevance ${i}`).toBeLessThan(1e-4 * scale);
    });
  });
});
