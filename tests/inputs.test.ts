import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../lrp/cli/run.js';
import { decodeImage, toPixelValues } from '../nn/image.js';
import { loadTokenizer } from '../nn/tokenizer.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';
import { modelDir, readReference } from './helpers/fixtures.js';

beforeAll(async () => {
  await gpu();
});

/** A w×h RGBA image whose red channel encodes x and green channel y. */
function gradientImage(w: number, h: number): Uint8Array {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      data[i] = Math.round((255 * x) / (w - 1));
      data[i + 1] = Math.round((255 * y) / (h - 1));
      data[i + 2] = 128;
      data[i + 3] = 255;
    }
  }
  return data;
}

function pngBytes(w: number, h: number): Uint8Array {
  const png = new PNG({ width: w, height: h });
  png.data = Buffer.from(gradientImage(w, h));
  return new Uint8Array(PNG.sync.write(png));
}

describe('tokenizer.json through @huggingface/tokenizers', () => {
  for (const name of ['gpt2', 'llama']) {
    it(`${name}: the fixture text encodes to the ids PyTorch used`, async () => {
      const ref = readReference(name);
      const tokenizer = await loadTokenizer(modelDir(name));
      expect(tokenizer.encode(ref.text!).ids).toEqual(ref.input_ids![0]);
      expect(tokenizer.tokenText(ref.input_ids![0]![1]!)).toBe(ref.text!.split(' ')[1]);
    });
  }

  it('a model without tokenizer.json says to pass ids', async () => {
    await expect(loadTokenizer(modelDir('vit'))).rejects.toThrow(/tokenizer\.json: not found.*--ids/);
  });
});

describe('images for ViT', () => {
  it('decodes PNG and JPEG to RGBA', () => {
    const png = decodeImage(pngBytes(5, 3), 'a.png');
    expect([png.width, png.height]).toEqual([5, 3]);
    expect(Array.from(png.data.slice(4 * 4, 4 * 4 + 4))).toEqual([255, 0, 128, 255]);
    const jpg = jpeg.encode({ width: 16, height: 16, data: Buffer.from(gradientImage(16, 16)) }, 95);
    const decoded = decodeImage(new Uint8Array(jpg.data), 'a.jpg');
    expect([decoded.width, decoded.height]).toEqual([16, 16]);
    // Lossy, but the red ramp survives within a few levels.
    expect(Math.abs(decoded.data[15 * 4]! - 255)).toBeLessThan(12);
  });

  it('refuses what is neither PNG nor JPEG', () => {
    expect(() => decodeImage(new Uint8Array([1, 2, 3, 4]), 'x.gif')).toThrow(/x\.gif: not a PNG or JPEG/);
  });

  it('resizes bilinearly and normalises channel-first', () => {
    const img = decodeImage(pngBytes(8, 8), 'a.png');
    const { data, shape } = toPixelValues(img, 4, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(shape).toEqual([1, 3, 4, 4]);
    // Red increases along x, green along y, blue is constant 128/255 → (0.502 − 0.5)/0.5.
    expect(data[3]!).toBeGreaterThan(data[0]!);
    expect(data[16 + 12]!).toBeGreaterThan(data[16]!);
    expect(data[32]!).toBeCloseTo((128 / 255 - 0.5) / 0.5, 5);
    for (const v of data) expect(Math.abs(v)).toBeLessThanOrEqual(1);
  });

  it('lrp explain --image runs on the ViT fixture, and a bad image exits with 2', async () => {
    const dir = tempDir('lrp-img-');
    const file = join(dir, 'in.png');
    writeFileSync(file, pngBytes(30, 20));
    let out = '';
    let err = '';
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
    expect(await main(['explain', '--model', modelDir('vit'), '--image', file, '--method', 'cp-lrp', '--assert-conservation', '1e-4'], io)).toBe(0);
    const e = JSON.parse(out) as { tokens: { id: number; text: string }[] };
    expect(e.tokens).toHaveLength(10);
    expect(e.tokens[0]).toMatchObject({ id: -1, text: '[CLS]' });
    const bad = join(dir, 'bad.png');
    writeFileSync(bad, 'not an image');
    expect(await main(['explain', '--model', modelDir('vit'), '--image', bad, '--method', 'gi'], io)).toBe(2);
    expect(err).toMatch(/bad\.png: not a PNG or JPEG/);
  });
});
