/**
 * The explorer in a real browser: headless Chromium with WebGPU (on machines without a GPU its
 * own SwiftShader adapter), the page served by `lrp serve`'s server from a fresh esbuild build.
 * The page explains a demo input with each method in the browser's WebGPU, and every relevance
 * must equal the Node library's (Dawn) for the same model and input within 1e-4 relative. Also:
 * the exports, the no-WebGPU message, and screenshots at two window sizes (git-ignored folder
 * `test-output/explorer/`, or LRP_SCREENSHOT_DIR).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init } from '../node.js';
import { explain } from '../lrp/explain.js';
import { jsonContract } from '../lrp/cli/contract.js';
import { METHOD_NAMES } from '../lrp/methods.js';
import type { Explanation, MethodName } from '../lrp/result.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { startExplorerServer, type ExplorerServer } from '../lrp/cli/explorerServer.js';
import { buildBrowser } from '../scripts/build-browser.js';
import { tempDir } from './helpers/tempdir.js';

// The tests' tsconfig has no DOM lib: the few browser globals used inside page callbacks.
declare const document: {
  body: { dataset: Record<string, string | undefined> };
  getElementById(id: string): { textContent: string | null } | null;
  documentElement: { scrollWidth: number; clientWidth: number };
};
declare const window: unknown;
declare const Navigator: { prototype: object };

const ROOT = resolve(import.meta.dirname, '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const SCREENSHOTS = process.env.LRP_SCREENSHOT_DIR ?? join(ROOT, 'test-output', 'explorer');

/** What the test explains: a causal LM with rotary positions, so PA-LRP has positional tensors. */
const MODEL = 'marker-copy';
const TEXT = 'n h g j g o d > i h m j ?';

// The same flags the machine notes give for headless Chromium here, plus WebGPU; no --disable-gpu
// (it would switch WebGPU off too). Chromium then serves WebGPU from its own SwiftShader.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Without Chromium the test is skipped on a workstation but fails in CI (scripts/setup.sh installs
// it), where a missing browser means the environment is broken.
it.runIf(process.env.CI)('finds Chromium in CI', () => {
  expect(haveChromium, `Chromium not found at ${CHROMIUM}`).toBe(true);
});

/** |a − b| ≤ 1e-4 · scale, element by element, with the element named on failure. */
function expectClose(browser: number[], node: number[], scale: number, what: string): void {
  expect(browser.length, what).toBe(node.length);
  node.forEach((v, i) => {
    expect(Math.abs(browser[i]! - v), `${what}[${i}]: browser ${browser[i]} vs node ${v}`).toBeLessThanOrEqual(1e-4 * scale);
  });
}

describe.skipIf(!haveChromium && !process.env.CI)(haveChromium ? 'the explorer in headless Chromium' : `the explorer in headless Chromium (skipped: no Chromium at ${CHROMIUM})`, () => {
  let browser: Browser;
  let page: Page;
  let server: ExplorerServer;
  let model: TransformerModel;
  const node = new Map<MethodName, Explanation>();
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    const assets = tempDir('lrp-explorer-build-');
    await buildBrowser(assets);
    server = await startExplorerServer({ assetsDir: assets, demoModelsDir: join(ROOT, 'models'), port: 0 });
    await init();
    model = await loadModel(join(ROOT, 'models', MODEL));
    for (const method of METHOD_NAMES) node.set(method, await explain(model, { text: TEXT }, { method }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    await page.goto(server.url);
    await page.waitForFunction(() => ['ready', 'error', 'no-webgpu'].includes(document.body.dataset.status ?? ''), null, { timeout: 60_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    model?.dispose();
  });

  it('starts WebGPU in the page and lists the demo models', async () => {
    const status = await page.evaluate(() => ({ status: document.body.dataset.status, error: document.getElementById('error')?.textContent, banner: document.getElementById('no-webgpu')?.textContent }));
    expect(status, JSON.stringify(status)).toMatchObject({ status: 'ready' });
    const options = await page.locator('#model option').allTextContents();
    expect(options).toEqual(['first-marked (demo)', 'marker-copy (demo)', 'marker-half (demo)', 'sentiment (demo)', 'token-at-k (demo)']);
    expect(await page.locator('#adapter').textContent()).toMatch(/^WebGPU adapter: /);
  });

  it('explains a demo input with each method exactly as the Node library does', async () => {
    await page.selectOption('#model', MODEL);
    await page.waitForFunction(() => document.body.dataset.status === 'ready' && document.getElementById('model-info')?.textContent !== '');
    await page.check('input[name=input-kind][value=text]');
    await page.fill('#input', TEXT);
    await page.click('#run');
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.status ?? ''), null, { timeout: 90_000 });
    expect(await page.locator('#error').textContent()).toBe('');
    const result = await page.evaluate(() => {
      const api = (window as unknown as { lrpExplorer: { explanations(): Record<string, unknown>; summary(): unknown } }).lrpExplorer;
      return { explanations: JSON.parse(JSON.stringify(api.explanations())) as Record<string, Explanation>, summary: api.summary() as { model: string; target: number } };
    });
    expect(result.summary.model).toBe(MODEL);
    expect(Object.keys(result.explanations).sort()).toEqual([...METHOD_NAMES].sort());
    for (const method of METHOD_NAMES) {
      const b = result.explanations[method]!;
      const n = node.get(method)!;
      expect(b.target, method).toBe(n.target);
      expect(b.tokens.map((t) => [t.id, t.text, t.start, t.end]), method).toEqual(n.tokens.map((t) => [t.id, t.text, t.start, t.end]));
      // Relative to the largest |relevance| of the explanation: small cells are judged on the same scale.
      const scale = Math.max(...n.tokens.flatMap((t) => [Math.abs(t.token), Math.abs(t.position)]), Math.abs(n.logit));
      expectClose(b.tokens.map((t) => t.token), n.tokens.map((t) => t.token), scale, `${method} token`);
      expectClose(b.tokens.map((t) => t.position), n.tokens.map((t) => t.position), scale, `${method} position`);
      expectClose([b.logit, b.conservation.output, b.conservation.input, b.conservation.bias], [n.logit, n.conservation.output, n.conservation.input, n.conservation.bias], scale, `${method} conservation`);
      expectClose(b.layers.flatMap((l) => [l.in, l.out]), n.layers.flatMap((l) => [l.in, l.out]), scale, `${method} layers`);
      expect(b.layers.map((l) => l.name)).toEqual(n.layers.map((l) => l.name));
    }
    // PA-LRP gives the rotary positions relevance; AttnLRP holds them constant.
    expect(node.get('pa-lrp')!.tokens.some((t) => t.position !== 0)).toBe(true);
  });

  it('shows the heatmap, the positional matrix, the layer chart, the ledger, the rules and all four methods', async () => {
    expect(await page.locator('#heatmap svg').count()).toBe(1);
    const rows = await page.locator('#matrix table.matrix tbody tr').count();
    expect(rows).toBe(2 + (node.get('pa-lrp')!.details?.positionalTensors.length ?? 0));
    const layerNames = await page.locator('#layers-chart td.layer').evaluateAll((cells) => cells.map((c) => c.getAttribute('title')));
    expect(layerNames).toEqual(node.get('pa-lrp')!.layers.map((l) => l.name));
    expect(await page.locator('#conservation table tr').count()).toBe(10);
    expect(await page.locator('#rules table tr').count()).toBe(1 + node.get('pa-lrp')!.details!.rules.length);
    expect(await page.locator('#compare svg').count()).toBe(1);
    expect(await page.locator('#method-tabs button').allTextContents()).toEqual([...METHOD_NAMES]);
  });

  it('exports the JSON contract of the CLI and the heatmap as SVG', async () => {
    await page.click('#method-tabs button[data-method="attnlrp"]');
    const [json] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
    expect(json.suggestedFilename()).toBe(`${MODEL}-attnlrp.json`);
    const exported = JSON.parse(await readFile((await json.path())!, 'utf8')) as Record<string, unknown>;
    const expected = jsonContract(node.get('attnlrp')!);
    expect(Object.keys(exported)).toEqual(Object.keys(expected));
    expect(exported.method).toBe('attnlrp');
    expect(exported.target).toBe(expected.target);
    const nodeTokens = node.get('attnlrp')!.tokens;
    const scale = Math.max(...nodeTokens.map((t) => Math.abs(t.total)));
    expectClose((exported.tokens as { total: number }[]).map((t) => t.total), nodeTokens.map((t) => t.total), scale, 'exported total');
    const [svg] = await Promise.all([page.waitForEvent('download'), page.click('#download-svg')]);
    const text = await readFile((await svg.path())!, 'utf8');
    expect(text).toMatch(/^(<\?xml[^>]*>\s*)?<svg/);
    expect(text).toContain('attnlrp');
  });

  it('explains a contrast: target minus another prediction', async () => {
    const second = await page.locator('#predictions tr[data-id]').nth(1).getAttribute('data-id');
    await page.check(`#predictions input[name=contrast][value="${second}"]`);
    // Done, and with the contrast applied (not the previous explanation's 'done').
    await page.waitForFunction(
      (id) =>
        document.body.dataset.status === 'error' ||
        (document.body.dataset.status === 'done' &&
          (window as { lrpExplorer: { explanations(): Record<string, { contrast?: number }> } }).lrpExplorer.explanations()['pa-lrp']?.contrast === id),
      Number(second),
      { timeout: 90_000 },
    );
    expect(await page.locator('#error').textContent()).toBe('');
    const b = await page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as { lrpExplorer: { explanations(): Record<string, Explanation> } }).lrpExplorer.explanations()['pa-lrp'])) as Explanation);
    const n = await explain(model, { text: TEXT }, { method: 'pa-lrp', contrast: Number(second) });
    expect(b.contrast).toBe(Number(second));
    const scale = Math.max(...n.tokens.map((t) => Math.abs(t.total)));
    expectClose(b.tokens.map((t) => t.total), n.tokens.map((t) => t.total), scale, 'contrast total');
  });

  it('takes token ids as well as text', async () => {
    const ids = model.tokenizer!.encode(TEXT).ids;
    await page.check('input[name=input-kind][value=ids]');
    await page.fill('#input', ids.join(', '));
    await page.click('#run');
    await page.waitForFunction(
      (n) =>
        document.body.dataset.status === 'error' ||
        (document.body.dataset.status === 'done' &&
          (window as { lrpExplorer: { explanations(): Record<string, { contrast?: number; tokens: { start?: number }[] }> } }).lrpExplorer
            .explanations()['gi']?.tokens.every((t) => t.start === undefined) === true &&
          (window as { lrpExplorer: { summary(): { ids?: number[] } } }).lrpExplorer.summary().ids?.length === n),
      ids.length,
      { timeout: 90_000 },
    );
    expect(await page.locator('#error').textContent()).toBe('');
    const b = await page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as { lrpExplorer: { explanations(): Record<string, Explanation> } }).lrpExplorer.explanations()['gi'])) as Explanation);
    const n = await explain(model, { ids: [ids] }, { method: 'gi' });
    expect(b.contrast).toBeUndefined();
    const scale = Math.max(...n.tokens.map((t) => Math.abs(t.total)), Math.abs(n.logit));
    expectClose(b.tokens.map((t) => t.total), n.tokens.map((t) => t.total), scale, 'ids total');
    await page.fill('#input', '1, 99999');
    await page.click('#run');
    await page.waitForFunction(() => document.body.dataset.status === 'error');
    expect(await page.locator('#error').textContent()).toMatch(/^Id 99999 is outside the vocabulary \(size \d+\)\.$/);
    // Back to the text input, so the screenshots show a full explanation.
    await page.check('input[name=input-kind][value=text]');
    await page.fill('#input', TEXT);
    await page.click('#run');
    await page.waitForFunction(() => document.body.dataset.status === 'done', null, { timeout: 90_000 });
  });

  it('looks right at two window sizes (screenshots)', async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    for (const [name, width, height] of [['wide', 1400, 1000], ['narrow', 760, 1000]] as const) {
      await page.setViewportSize({ width, height });
      const file = join(SCREENSHOTS, `explorer-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      expect((await readFile(file)).length).toBeGreaterThan(10_000);
      // Nothing sticks out sideways: the page scrolls only vertically.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${name}: horizontal overflow`).toBeLessThanOrEqual(0);
    }
    expect(consoleErrors).toEqual([]);
  });

  it('says clearly when the browser has no WebGPU', async () => {
    const context = await browser.newContext();
    const bare = await context.newPage();
    await bare.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    await bare.goto(server.url);
    await bare.waitForFunction(() => document.body.dataset.status === 'no-webgpu');
    const banner = await bare.locator('#no-webgpu').textContent();
    expect(banner).toContain('WebGPU is not available here');
    expect(banner).toContain('navigator.gpu is missing');
    expect(await bare.locator('#run').isDisabled()).toBe(true);
    // No result panel shows before there is a result.
    expect(await bare.locator('.results .panel:visible').count()).toBe(0);
    await bare.screenshot({ path: join(SCREENSHOTS, 'explorer-no-webgpu.png') });
    await context.close();
  });
});
