/**
 * Images for ViT: PNG (pngjs) or JPEG (jpeg-js) decoded, resized to the model's side by bilinear
 * sampling, scaled to [0, 1] and normalised like HF's ViTImageProcessor (mean 0.5, std 0.5 unless
 * `preprocessor_config.json` says otherwise).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { InputError } from '../kernels/errors.js';
import { MAX_FILE_BYTES, readBoundedFile, readBoundedJson } from './files.js';

/**
 * The most pixels an input image may have, checked from its header before it is decoded (a
 * 730 KB PNG can claim 16000² pixels, 1 GB once decoded). 50 MP covers any camera photo.
 */
export const MAX_IMAGE_PIXELS = 50_000_000;

/** A decoded image: 8-bit RGBA, row-major, 4 bytes per pixel. */
export interface Rgba {
  /** Pixels per row. */
  width: number;
  /** Rows. */
  height: number;
  /** width · height · 4 bytes: R, G, B, A per pixel. */
  data: Uint8Array;
}

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!;
}

/** Width and height from a PNG's IHDR chunk, which the format requires to come first. */
function pngSize(bytes: Uint8Array): { width: number; height: number } | null {
  const ihdr = bytes[12] === 0x49 && bytes[13] === 0x48 && bytes[14] === 0x44 && bytes[15] === 0x52;
  return bytes.length >= 24 && ihdr ? { width: u32(bytes, 16), height: u32(bytes, 20) } : null;
}

/** Width and height from a JPEG's first start-of-frame segment (markers C0–CF but C4, C8, CC). */
function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
  let at = 2;
  while (at + 3 < bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image, or scan data before any frame
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) return at + 8 < bytes.length ? { height: u16(bytes, at + 5), width: u16(bytes, at + 7) } : null;
    at += 2 + u16(bytes, at + 2);
  }
  return null;
}

/** Refuses an image whose header claims no pixels or more than MAX_IMAGE_PIXELS, before decoding. */
function checkSize(size: { width: number; height: number } | null, source: string): void {
  if (!size) throw new InputError(`${source}: cannot decode the image (no image size in its header)`);
  const { width, height } = size;
  if (width === 0 || height === 0) throw new InputError(`${source}: the image is ${width}×${height} pixels, which is empty`);
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new InputError(`${source}: the image is ${width}×${height} pixels, more than the limit of ${MAX_IMAGE_PIXELS / 1e6} megapixels`);
  }
}

/**
 * Decodes a PNG or JPEG file's bytes to RGBA. Throws an InputError naming `source` when the file
 * is neither, is corrupt, or claims more than `MAX_IMAGE_PIXELS` (checked before decoding).
 */
export function decodeImage(bytes: Uint8Array, source: string): Rgba {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  if (!isPng && !isJpeg) throw new InputError(`${source}: not a PNG or JPEG file`);
  checkSize(isPng ? pngSize(bytes) : jpegSize(bytes), source);
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
    return { width: img.width, height: img.height, data: img.data };
  } catch (error) {
    throw new InputError(`${source}: cannot decode the image (${(error as Error).message})`);
  }
}

/** Per-channel normalisation: (pixel · scale − mean) / std, like HF's image processors. */
export interface Normalisation {
  /** Subtracted per channel (R, G, B) after scaling. */
  mean: [number, number, number];
  /** Divides per channel after the mean is subtracted. */
  std: [number, number, number];
  /** Multiplies the 0–255 pixel values before normalising (HF's rescale_factor); 1/255 by default. */
  scale?: number;
}

const IDENTITY: Normalisation = { mean: [0, 0, 0], std: [1, 1, 1] };

/** One per-channel triple of preprocessor_config.json: a number (for every channel) or a list of 3. */
function channelTriple(raw: Record<string, unknown>, key: string, fallback: number, path: string, nonZero: boolean): [number, number, number] {
  const v = raw[key];
  if (v === undefined || v === null) return [fallback, fallback, fallback];
  const list = typeof v === 'number' ? [v, v, v] : v;
  if (!Array.isArray(list) || list.length !== 3) throw new InputError(`${path}: ${key} must be a number or a list of 3 numbers, got ${JSON.stringify(v)}`);
  list.forEach((x: unknown, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new InputError(`${path}: ${key}[${i}] must be a finite number, got ${JSON.stringify(x)}`);
    if (nonZero && x === 0) throw new InputError(`${path}: ${key}[${i}] is 0 (it divides every pixel)`);
  });
  return list as [number, number, number];
}

function flag(raw: Record<string, unknown>, key: string, path: string): boolean {
  const v = raw[key] ?? true;
  if (typeof v !== 'boolean') throw new InputError(`${path}: ${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * The model's normalisation from `preprocessor_config.json` (HF's defaults when the file is absent).
 * A file that exists but is malformed is an error, never silently replaced by the defaults.
 */
export async function readNormalisation(modelDir: string): Promise<Normalisation> {
  const path = join(modelDir, 'preprocessor_config.json');
  const exists = await stat(path).then(() => true, (error: NodeJS.ErrnoException) => error.code !== 'ENOENT');
  if (!exists) return { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
  const raw = await readBoundedJson(path, 'the preprocessor config', MAX_FILE_BYTES.config);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`${path}: must hold a JSON object`);
  const config = raw as Record<string, unknown>;
  let scale = 1 / 255;
  if (!flag(config, 'do_rescale', path)) scale = 1;
  else if (config['rescale_factor'] !== undefined) {
    const v = config['rescale_factor'];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InputError(`${path}: rescale_factor must be a positive finite number, got ${JSON.stringify(v)}`);
    scale = v;
  }
  const mean = channelTriple(config, 'image_mean', 0.5, path, false);
  const std = channelTriple(config, 'image_std', 0.5, path, true);
  return flag(config, 'do_normalize', path) ? { mean, std, scale } : { ...IDENTITY, scale };
}

/** Resizes (bilinear) and normalises to [1, 3, size, size] pixel values. */
export function toPixelValues(img: Rgba, size: number, norm: Normalisation): { data: Float32Array; shape: [number, number, number, number] } {
  const out = new Float32Array(3 * size * size);
  const scale = norm.scale ?? 1 / 255;
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
        out[c * size * size + y * size + x] = (v * scale - norm.mean[c]!) / norm.std[c]!;
      }
    }
  }
  return { data: out, shape: [1, 3, size, size] };
}

/**
 * Reads an image file and returns pixel values for a ViT of side `size`, [1, 3, size, size],
 * normalised as `modelDir`'s preprocessor_config.json says. Throws an InputError for a missing,
 * oversized or undecodable file.
 */
export async function loadImage(path: string, modelDir: string, size: number): Promise<{ data: Float32Array; shape: [number, number, number, number] }> {
  const normalisation = await readNormalisation(modelDir);
  const bytes = await readBoundedFile(path, 'the image', MAX_FILE_BYTES.image);
  return toPixelValues(decodeImage(bytes, path), size, normalisation);
}
