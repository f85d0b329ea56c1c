/**
 * Figure options of `lrp explain`: TikZ output, several methods side by side, scale modes,
 * numbers and words, and ViT relevance over the input image; misuse exits 2 and writes nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { modelDir } from './helpers/fixtures.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';

beforeAll(async () => {
  await gpu();
});

const gpt2 = modelDir('gpt2');
const base = ['explain', '--model', gpt2, '--ids', '5,9,14,3'];

describe('lrp explain figures', () => {
  it('writes a TikZ picture with --format tex', async () => {
    const { code, stdout } = await runCli(...base, '--method', 'pa-lrp', '--format', 'tex');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^% transformer-lrp: pa-lrp, target \d+/);
    expect(stdout.match(/\\node\[text=/g)).toHaveLength(4);
  });

  it('shows several methods side by side for one target, in SVG and HTML', async () => {
    const svg = await runCli(...base, '--method', 'gi,cp-lrp,pa-lrp', '--format', 'svg', '--numbers');
    expect(svg.code).toBe(0);
    expect(svg.stdout.match(/<g class="token"/g)).toHaveLength(12);
    for (const m of ['gi', 'cp-lrp', 'pa-lrp']) expect(svg.stdout).toContain(`>${m}</text>`);
    expect(svg.stdout.match(/class="number"/g)).toHaveLength(24);
    // One explained target for all rows: the argmax, as a single-method run explains it.
    const single = JSON.parse((await runCli(...base, '--method', 'gi')).stdout) as { target: number; targetText?: string };
    const named = single.targetText === undefined ? '' : ` &quot;${single.targetText}&quot;`;
    expect(svg.stdout).toContain(`target ${single.target}${named} · gi vs cp-lrp vs pa-lrp`);
    const html = await runCli(...base, '--method', 'cp-lrp,attnlrp', '--format', 'html', '--scale', 'p90');
    expect(html.code).toBe(0);
    expect(html.stdout).toContain('<h2>attnlrp: conservation</h2>');
    expect(html.stdout).toContain('90th percentile of |R|');
  });

  it('applies scale modes and word aggregation to a single explanation', async () => {
    const excluded = await runCli(...base, '--method', 'pa-lrp', '--format', 'svg', '--scale', 'exclude-predicting');
    expect(excluded.code).toBe(0);
    expect(excluded.stdout).toContain('max |R| without position 3');
    const words = await runCli('explain', '--model', gpt2, '--text', 'the cat sat on the mat', '--method', 'pa-lrp', '--format', 'html', '--words');
    expect(words.code).toBe(0);
    expect(words.stdout.match(/<span class="token"/g)).toHaveLength(6);
  });

  it('refuses figure options where they do not apply, with exit 2 and nothing written', async () => {
    const cases: string[][] = [
      ['--method', 'gi,pa-lrp', '--format', 'json'],
      ['--method', 'gi,pa-lrp', '--format', 'ansi'],
      ['--method', 'gi,gi', '--format', 'svg'],
      ['--method', 'pa-lrp', '--format', 'json', '--numbers'],
      ['--method', 'pa-lrp', '--format', 'svg', '--scale', 'p0'],
      ['--method', 'pa-lrp', '--format', 'svg', '--scale', 'median'],
      ['--method', 'pa-lrp', '--format', 'pdf'],
    ];
    for (const extra of cases) {
      const r = await runCli(...base, ...extra);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^lrp: /);
    }
  });

  it('draws a ViT explanation over the --image in the HTML report', async () => {
    const dir = tempDir('lrp-figures-');
    const png = new PNG({ width: 30, height: 30 });
    for (let i = 0; i < png.data.length; i += 4) png.data.set([(i / 4) % 255, 100, 200, 255], i);
    const image = join(dir, 'input.png');
    writeFileSync(image, PNG.sync.write(png));
    const { code, stdout } = await runCli('explain', '--model', modelDir('vit'), '--image', image, '--method', 'pa-lrp', '--format', 'html');
    expect(code).toBe(0);
    expect(stdout).toContain('<h2>Over the image</h2>');
    expect(stdout).toContain('href="data:image/png;base64,');
    expect(stdout.match(/<rect class="patch" data-patch="\d+" data-token=/g)).toHaveLength(9);
  });
});
