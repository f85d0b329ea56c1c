import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml, renderSvg } from '../lrp/render/index.js';
import { sampleExplanation } from './helpers/sample-explanation.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);

// The tests' tsconfig carries no DOM lib (the library itself runs in Node), so the few browser
// globals used inside page callbacks are declared here, for this file only.
interface BrowserElement {
  getAttribute(name: string): string | null;
  textContent: string | null;
}
declare const document: {
  querySelectorAll(selector: string): ArrayLike<BrowserElement>;
  querySelector(selector: string): BrowserElement | null;
};
declare function getComputedStyle(element: BrowserElement): { backgroundColor: string };
declare class DOMParser {
  parseFromString(text: string, type: string): { querySelector(selector: string): BrowserElement | null };
}

function parseRgb(css: string): { r: number; g: number; b: number } {
  const m = css.match(/rgba?\((\d+), (\d+), (\d+)/);
  if (!m) throw new Error(`not an rgb() colour: ${css}`);
  return { r: Number(m[1]), g: Number(m[2]), b: Number(m[3]) };
}

// Without Chromium the test is skipped on a workstation but fails in CI, where a missing browser
// means the environment is broken rather than that the check does not apply.
it.runIf(process.env.CI)('finds Chromium in CI', () => {
  expect(haveChromium, `Chromium not found at ${CHROMIUM}`).toBe(true);
});

describe.skipIf(!haveChromium && !process.env.CI)('HTML report in headless Chromium', () => {
  const e = sampleExplanation();
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}`).toBe(true);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    page.on('request', (r) => {
      if (!r.url().startsWith('data:') && r.url() !== 'about:blank') requests.push(r.url());
    });
    await page.setContent(renderHtml(e), { waitUntil: 'load' });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('loads nothing from outside the page', () => {
    expect(requests).toEqual([]);
  });

  it('renders a screenshot with red and blue cells in it', async () => {
    const dir = process.env.LRP_SCREENSHOT_DIR ?? (await mkdtemp(join(tmpdir(), 'lrp-render-')));
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'report.png');
    await page.screenshot({ path: file, fullPage: true });
    const bytes = await readFile(file);
    expect(bytes.length).toBeGreaterThan(1000);
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const png = PNG.sync.read(bytes);
    let red = 0;
    let blue = 0;
    for (let i = 0; i < png.data.length; i += 4) {
      const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
      if (r > 180 && g < 90 && b < 90) red += 1;
      if (b > 150 && r < 80) blue += 1;
    }
    expect(red, 'strongly red pixels').toBeGreaterThan(50);
    expect(blue, 'strongly blue pixels').toBeGreaterThan(50);
  });

  it('has one .token span per token, carrying its numbers', async () => {
    const spans = await page.evaluate(() =>
      Array.from(document.querySelectorAll('.token'), (el) => ({
        index: el.getAttribute('data-index'),
        id: el.getAttribute('data-id'),
        token: el.getAttribute('data-token'),
        position: el.getAttribute('data-position'),
        total: el.getAttribute('data-total'),
        text: el.textContent,
      })),
    );
    expect(spans).toHaveLength(e.tokens.length);
    spans.forEach((s, i) => {
      const t = e.tokens[i]!;
      expect(Number(s.index)).toBe(t.index);
      expect(Number(s.id)).toBe(t.id);
      expect(Number(s.token)).toBe(t.token);
      expect(Number(s.position)).toBe(t.position);
      expect(Number(s.total)).toBe(t.total);
    });
    // Markup inside a token is shown as text, not parsed into elements.
    expect(spans[4]!.text).toBe(e.tokens[4]!.text);
    expect(await page.evaluate(() => document.querySelectorAll('script').length)).toBe(0);
  });

  it('paints a positive token reddish and a negative token bluish', async () => {
    const background = (index: number) =>
      page.evaluate((i) => getComputedStyle(document.querySelector(`.token[data-index="${i}"]`)!).backgroundColor, index);
    const positive = parseRgb(await background(2));
    const negative = parseRgb(await background(3));
    expect(positive.r).toBeGreaterThan(positive.b + 100);
    expect(negative.b).toBeGreaterThan(negative.r + 100);
    const strip = await page.evaluate(
      () => getComputedStyle(document.querySelector('.position[data-index="4"]')!).backgroundColor,
    );
    expect(parseRgb(strip).b).toBeGreaterThan(parseRgb(strip).r);
  });

  it('shows one layer row per recorded layer', async () => {
    const rows = await page.evaluate(() => document.querySelectorAll('table.layers tr').length);
    expect(rows).toBe(e.layers.length + 1);
  });

  it('parses the SVG rendering as XML without errors', async () => {
    const svg = renderSvg(e);
    const result = await page.evaluate((text) => {
      const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
      const error = doc.querySelector('parsererror');
      return { error: error?.textContent ?? null, cells: doc.querySelector('svg') !== null };
    }, svg);
    expect(result.error).toBeNull();
    expect(result.cells).toBe(true);
  });
});
