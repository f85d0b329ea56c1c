/**
 * Images for ViT: PNG (pngjs) or JPEG (jpeg-js) decoded, resized to the model's side by bilinear
 * sampling, scaled to [0, 1] and normalised like HF's ViTImageProcessor (mean 0.5, std 0.5 unless
 * `preprocessor_config.json` says otherwise).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { InputError } from '../kernels/errors.js';

export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

export function decodeImage(bytes: Uint8Array, source: string): Rgba {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data) };
    }
    if (isJpeg) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (error) {
    throw new InputError(`${source}: cannot decode the image (${(error as Error).message})`);
  }
  throw new InputError(`${source}: not a PNG or JPEG file`);
}

interface Normalisation {
  mean: [number, number, number];
  std: [number, number, number];
}

async function readNormalisation(modelDir: string): Promise<Normalisation> {
  try {
    const raw = JSON.parse(await readFile(join(modelDir, 'preprocessor_config.json'), 'utf8')) as { image_mean?: number[]; image_std?: number[] };
    const triple = (v: number[] | undefined, d: number): [number, number, number] => (v && v.length === 3 ? [v[0]!, v[1]!, v[2]!] : [d, d, d]);
    return { mean: triple(raw.image_mean, 0.5), std: triple(raw.image_std, 0.5) };
  } catch {
    return { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
  }
}

/** Resizes (bilinear) and normalises to [1, 3, size, size] pixel values. */
export function toPixelValues(img: Rgba, size: number, norm: Normalisation): { data: Float32Array; shape: [number, number, number, number] } {
  const out = new Float32Array(3 * size * size);
  for (let y = 0; y < size; y++) {
    const sy = Math.min(Math.max(((y + 0.5) * img.height) / size - 0.5, 0), img.height - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, img.height - 1);
    const fy = sy - y0;
    for (let x = 0; x < size; x++) {
      const sx = Math.min(Math.max(((x + 0.5) * img.width) / size - 0.5, 0), img.width - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, img.width - 1);
      const fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const at = (xx: number, yy: number): number => img.data[(yy * img.width + xx) * 4 + c]!;
        const v = (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
        out[c * size * size + y * size + x] = (v / 255 - norm.mean[c]!) / norm.std[c]!;
      }
    }
  }
  return { data: out, shape: [1, 3, size, size] };
}

export async function loadImage(path: string, modelDir: string, size: number): Promise<{ data: Float32Array; shape: [number, number, number, number] }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch {
    throw new InputError(`${path}: cannot read the image`);
  }
  return toPixelValues(decodeImage(bytes, path), size, await readNormalisation(modelDir));
}
