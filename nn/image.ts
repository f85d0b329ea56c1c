/**
 * Node only: image files for ViT, PNG (pngjs) or JPEG (jpeg-js) decoded, then turned into pixel
 * values by the portable nn/pixels.ts (resize, rescale, normalise as `preprocessor_config.json`
 * says).
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { InputError } from '../kernels/errors.js';
import { MAX_FILE_BYTES, readBoundedFile } from './files.js';
import { folderSource } from './folderSource.js';
import { readNormalisationFrom, toPixelValues, type Normalisation, type Rgba } from './pixels.js';

export { toPixelValues, type Normalisation, type Rgba } from './pixels.js';

/**
 * The most pixels an input image may have, checked from its header before it is decoded (a
 * 730 KB PNG can claim 16000² pixels, 1 GB once decoded). 50 MP covers any camera photo.
 */
export const MAX_IMAGE_PIXELS = 50_000_000;

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

/** The normalisation of model folder `modelDir` (its preprocessor_config.json, else HF's defaults). */
export function readNormalisation(modelDir: string): Promise<Normalisation> {
  return readNormalisationFrom(folderSource(modelDir));
}

/** An image file (PNG or JPEG, size-capped) as the `[1, 3, size, size]` pixel values the model in `modelDir` takes. */
export async function loadImage(path: string, modelDir: string, size: number): Promise<{ data: Float32Array; shape: [number, number, number, number] }> {
  const normalisation = await readNormalisation(modelDir);
  const bytes = await readBoundedFile(path, 'the image', MAX_FILE_BYTES.image);
  return toPixelValues(decodeImage(bytes, path), size, normalisation);
}
