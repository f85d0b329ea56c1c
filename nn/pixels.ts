/**
 * Images as a ViT takes them, from decoded RGBA pixels: resized to the model's side by bilinear
 * sampling, scaled to [0, 1] and normalised like HF's ViTImageProcessor (mean 0.5, std 0.5 unless
 * `preprocessor_config.json` says otherwise). Portable: decoding a PNG or JPEG file is Node-only
 * (nn/image.ts); in a browser, decode with `createImageBitmap` and a canvas.
 */
import { InputError } from '../kernels/errors.js';
import { MAX_FILE_BYTES, readJsonObject, type ModelSource } from './source.js';

/** Decoded pixels, 4 bytes (R, G, B, A) per pixel, row by row. */
export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/** How pixel values are normalised per channel: `(value × scale − mean) / std`. */
export interface Normalisation {
  mean: [number, number, number];
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
 * The model's normalisation from its `preprocessor_config.json` (HF's defaults when the file is
 * absent). A file that exists but is malformed is an error, never silently replaced by the
 * defaults. In Node, `readNormalisation(dir)` (nn/image.ts) reads it from a folder.
 */
export async function readNormalisationFrom(source: ModelSource): Promise<Normalisation> {
  const name = 'preprocessor_config.json';
  if (!(await source.exists(name))) return { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
  const path = source.locate(name);
  const config = await readJsonObject(source, name, 'the preprocessor config', MAX_FILE_BYTES.config);
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

