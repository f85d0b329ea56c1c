import { execFileSync } from 'node:child_process';
import { cpSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../lrp/cli/run.js';
import { InputError } from '../kernels/errors.js';
import { decodeImage, loadImage, readNormalisation, toPixelValues } from '../nn/image.js';
import { loadTokenizer } from '../nn/folder.js';
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

  it('an id the tokenizer does not know (the model vocabulary is padded past it) is shown as #id', async () => {
    for (const name of ['gpt2', 'llama']) {
      const tokenizer = await loadTokenizer(modelDir(name));
      // Both fixture tokenizers stop before id 95; the models' vocabularies have 96 rows.
      expect(tokenizer.tokenText(95)).toBe('#95');
      expect(tokenizer.tokenText(50300)).toBe('#50300');
      expect(tokenizer.tokenText(5)).not.toMatch(/^#/);
    }
    expect((await loadTokenizer(modelDir('gpt2'))).tokenText(0)).toBe('<|endoftext|>');
  });

  it('tokenizer.json must be a bounded regular file holding a tokenizer', async () => {
    const dir = tempDir('lrp-tok-');
    execFileSync('mkfifo', [join(dir, 'tokenizer.json')]);
    await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer\.json: the model's tokenizer\.json must be a regular file, but it is a FIFO/);
    rmSync(join(dir, 'tokenizer.json'));
    symlinkSync('/dev/zero', join(dir, 'tokenizer.json'));
    await expect(loadTokenizer(dir)).rejects.toThrow(/must be a regular file, but it is a character device/);
    rmSync(join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": {}}');
    await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer\.json: not a tokenizer that tokenizers\.js can read/);
    await expect(loadTokenizer(dir)).rejects.toBeInstanceOf(InputError);
    cpSync(join(modelDir('gpt2'), 'tokenizer.json'), join(dir, 'tokenizer.json'));
    symlinkSync('/dev/zero', join(dir, 'tokenizer_config.json'));
    await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer_config\.json: the tokenizer config must be a regular file/);
  });

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

  it('refuses a PNG or JPEG whose header claims more than 50 megapixels, before decoding it', () => {
    const png = pngBytes(4, 4);
    new DataView(png.buffer).setUint32(16, 16000);
    new DataView(png.buffer).setUint32(20, 16000);
    expect(() => decodeImage(png, 'big.png')).toThrow(/big\.png: the image is 16000×16000 pixels, more than the limit of 50 megapixels/);
    const jpg = new Uint8Array(jpeg.encode({ width: 16, height: 16, data: Buffer.from(gradientImage(16, 16)) }, 90).data);
    // Find the baseline start-of-frame marker (FF C0) and claim 16000×16000 in it.
    const sof = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xc0);
    expect(new DataView(jpg.buffer).getUint16(sof + 5)).toBe(16);
    new DataView(jpg.buffer).setUint16(sof + 5, 16000);
    new DataView(jpg.buffer).setUint16(sof + 7, 16000);
    expect(() => decodeImage(jpg, 'big.jpg')).toThrow(/big\.jpg: the image is 16000×16000 pixels, more than the limit/);
  });

  it('refuses an empty image and a JPEG without a frame header', () => {
    const png = pngBytes(4, 4);
    new DataView(png.buffer).setUint32(16, 0);
    expect(() => decodeImage(png, 'empty.png')).toThrow(/empty\.png: the image is 0×4 pixels, which is empty/);
    expect(() => decodeImage(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), 'x.jpg')).toThrow(/x\.jpg: cannot decode the image \(no image size/);
  });

  it('preprocessor_config.json is validated, never silently replaced by defaults', async () => {
    const dir = tempDir('lrp-pre-');
    const write = (config: object) => writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify(config));
    expect(await readNormalisation(dir)).toEqual({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    write({ image_mean: [0.485, 0.456, 0.406], image_std: 0.25 });
    expect(await readNormalisation(dir)).toEqual({ mean: [0.485, 0.456, 0.406], std: [0.25, 0.25, 0.25], scale: 1 / 255 });
    write({ do_normalize: false, rescale_factor: 0.5 });
    expect(await readNormalisation(dir)).toEqual({ mean: [0, 0, 0], std: [1, 1, 1], scale: 0.5 });
    const refused: [object, RegExp][] = [
      [{ image_std: [0, 0, 0] }, /preprocessor_config\.json: image_std\[0\] is 0/],
      [{ image_std: [0.5, 0, 0.5] }, /image_std\[1\] is 0/],
      [{ image_mean: [0.5, 'x', 0.5] }, /image_mean\[1\] must be a finite number, got "x"/],
      [{ image_mean: [0.5, 0.5] }, /image_mean must be a number or a list of 3 numbers/],
      [{ rescale_factor: 0 }, /rescale_factor must be a positive finite number/],
      [{ do_normalize: 'yes' }, /do_normalize must be true or false/],
    ];
    for (const [config, message] of refused) {
      write(config);
      await expect(readNormalisation(dir)).rejects.toThrow(message);
      await expect(readNormalisation(dir)).rejects.toBeInstanceOf(InputError);
    }
    writeFileSync(join(dir, 'preprocessor_config.json'), '{"image_std": [0.5, 0.5, 0.5e999]}');
    await expect(readNormalisation(dir)).rejects.toThrow(/image_std\[2\] must be a finite number, got null/);
    rmSync(join(dir, 'preprocessor_config.json'));
    execFileSync('mkfifo', [join(dir, 'preprocessor_config.json')]);
    await expect(readNormalisation(dir)).rejects.toThrow(/must be a regular file, but it is a FIFO/);
  });

  it('an image that is a FIFO or a device is refused without blocking', async () => {
    const dir = tempDir('lrp-img-');
    execFileSync('mkfifo', [join(dir, 'in.png')]);
    await expect(loadImage(join(dir, 'in.png'), modelDir('vit'), 24)).rejects.toThrow(/in\.png: the image must be a regular file, but it is a FIFO/);
    await expect(loadImage('/dev/zero', modelDir('vit'), 24)).rejects.toThrow(/\/dev\/zero: the image must be a regular file, but it is a character device/);
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
