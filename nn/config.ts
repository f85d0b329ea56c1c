/**
 * Reading HF `config.json` values with validation: each accessor names the key and the file when
 * a value is missing, of the wrong type or out of range, so a malformed config fails before any
 * weight loads.
 *
 * Sizes are also checked against the checkpoint (`limitTo`) as they are read, which is before the
 * family builds any layer: a config claiming a billion layers fails in microseconds instead of
 * building a billion modules. The keys are recognised by their Hugging Face names (tables below),
 * so a new family that reads the usual keys gets the same checks.
 */
import { InputError } from '../kernels/errors.js';

/** A parsed JSON object whose values are not yet validated. */
export type JsonObject = { [key: string]: unknown };

/** The largest integer any config value may have (a size this large cannot be a real model's). */
export const MAX_CONFIG_INT = 2 ** 31 - 1;

/**
 * The most layers any config may claim, with or without a checkpoint to compare with (`buildModel`
 * builds from config.json alone): the deepest published transformers have about 130.
 */
export const MAX_LAYERS = 4096;

/** Keys that count layers: at most MAX_LAYERS, and as many as the checkpoint's tensor names number. */
const LAYER_COUNT_KEYS: ReadonlySet<string> = new Set(['n_layer', 'num_hidden_layers', 'num_layers']);

/** Keys that are (or divide) a dimension of some weight: at most the checkpoint's largest dimension. */
const DIMENSION_KEYS: ReadonlySet<string> = new Set([
  'vocab_size', 'hidden_size', 'n_embd', 'intermediate_size', 'n_inner', 'num_attention_heads', 'n_head',
  'num_key_value_heads', 'head_dim', 'type_vocab_size', 'num_labels', 'patch_size', 'num_channels',
]);

/** Keys that must be finite and strictly positive: a norm's epsilon, the rotary base. */
const POSITIVE_REAL_KEYS: ReadonlySet<string> = new Set(['layer_norm_epsilon', 'layer_norm_eps', 'rms_norm_eps', 'rope_theta']);

/** Keys that are a fraction in (0, 1]. */
const FRACTION_KEYS: ReadonlySet<string> = new Set(['partial_rotary_factor']);

/** What a checkpoint allows config sizes to be; see `checkpointLimits`. */
export interface SizeLimits {
  /** The largest dimension of any tensor. */
  readonly largestDimension: number;
  /** One more than the largest number that is a component of a tensor name (`h.11.attn` → 12). */
  readonly layerIndices: number;
}

/** The size limits a checkpoint's tensor shapes and names imply. */
export function checkpointLimits(tensors: Iterable<{ name: string; shape: readonly number[] }>): SizeLimits {
  let largestDimension = 0;
  let layerIndices = 0;
  for (const { name, shape } of tensors) {
    for (const d of shape) largestDimension = Math.max(largestDimension, d);
    for (const part of name.split('.')) if (/^\d{1,9}$/.test(part)) layerIndices = Math.max(layerIndices, Number(part) + 1);
  }
  return { largestDimension, layerIndices };
}

/**
 * A config.json with validating accessors: each throws an InputError naming the file and key when
 * a value is missing, of the wrong type or out of range (and, after `limitTo`, larger than the
 * checkpoint allows).
 */
export class ConfigReader {
  /** Keys read so far: what the family looked at in the config. */
  readonly used = new Set<string>();
  private limits: { sizes: SizeLimits; checkpoint: string } | null = null;

  constructor(
    /** The parsed file, for keys no accessor covers. */
    readonly raw: JsonObject,
    private readonly source: string,
  ) {}

  /** From now on, sizes read are checked against what the checkpoint at `checkpoint` holds. */
  limitTo(sizes: SizeLimits, checkpoint: string): this {
    this.limits = { sizes, checkpoint };
    return this;
  }

  /** An InputError naming this config file and `key`. */
  error(key: string, why: string): InputError {
    return new InputError(`${this.source}: ${key} ${why}`);
  }

  private fail(key: string, why: string): never {
    throw this.error(key, why);
  }

  private checkAgainstCheckpoint(key: string, v: number): void {
    if (!this.limits) return;
    const { sizes, checkpoint } = this.limits;
    if (LAYER_COUNT_KEYS.has(key) && v > sizes.layerIndices) {
      this.fail(key, `is ${v}, but the tensor names of ${checkpoint} number at most ${sizes.layerIndices} layers`);
    }
    if (DIMENSION_KEYS.has(key) && v > sizes.largestDimension) {
      this.fail(key, `is ${v}, larger than every dimension of every tensor in ${checkpoint} (the largest is ${sizes.largestDimension})`);
    }
  }

  /** Whether `key` is present and not null. */
  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  /**
   * A non-negative integer (at most `MAX_CONFIG_INT`; layer counts at most `MAX_LAYERS`); `fallback` when absent.
   */
  int(key: string, fallback?: number): number {
    this.used.add(key);
    const v = this.raw[key] ?? fallback;
    if (v === undefined) this.fail(key, 'is missing');
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail(key, `must be a non-negative integer, got ${JSON.stringify(v)}`);
    if (v > MAX_CONFIG_INT) this.fail(key, `is ${v}, more than the limit of ${MAX_CONFIG_INT}`);
    this.checkAgainstCheckpoint(key, v);
    if (LAYER_COUNT_KEYS.has(key) && v > MAX_LAYERS) this.fail(key, `is ${v}, more than the limit of ${MAX_LAYERS} layers`);
    return v;
  }

  /** A positive integer; `fallback` when absent. */
  positiveInt(key: string, fallback?: number): number {
    const v = this.int(key, fallback);
    if (v === 0) this.fail(key, 'must be positive');
    return v;
  }

  /** A finite number (epsilons and the rotary base > 0, fractions in (0, 1]); `fallback` when absent. */
  number(key: string, fallback?: number): number {
    this.used.add(key);
    const v = this.raw[key] ?? fallback;
    if (v === undefined) this.fail(key, 'is missing');
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be a finite number, got ${JSON.stringify(v)}`);
    if (POSITIVE_REAL_KEYS.has(key) && !(v > 0)) this.fail(key, `must be greater than 0, got ${v}`);
    if (FRACTION_KEYS.has(key) && !(v > 0 && v <= 1)) this.fail(key, `must be in (0, 1], got ${v}`);
    return v;
  }

  /** A string; `fallback` when absent. */
  string(key: string, fallback?: string): string {
    this.used.add(key);
    const v = this.raw[key] ?? fallback;
    if (v === undefined) this.fail(key, 'is missing');
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A boolean; `fallback` when absent. */
  bool(key: string, fallback?: boolean): boolean {
    this.used.add(key);
    const v = this.raw[key] ?? fallback;
    if (v === undefined) this.fail(key, 'is missing');
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** One of the strings in `allowed`; `fallback` when absent. */
  oneOf<T extends string>(key: string, allowed: readonly T[], fallback?: T): T {
    const v = this.string(key, fallback);
    if (!allowed.includes(v as T)) this.fail(key, `must be one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  }

  /** Number of labels of a classifier: `num_labels`, else the size of `id2label`. */
  numLabels(fallback = 2): number {
    if (this.has('num_labels')) return this.positiveInt('num_labels');
    const map = this.raw['id2label'];
    if (map && typeof map === 'object') {
      const n = Object.keys(map).length;
      if (n === 0) this.fail('id2label', 'is empty');
      this.checkAgainstCheckpoint('num_labels', n);
      return n;
    }
    return fallback;
  }

  /** The `n` class names from `id2label`, `LABEL_<i>` where a name is missing. */
  labels(n: number): string[] {
    const map = this.raw['id2label'];
    return Array.from({ length: n }, (_, i) => {
      const v = map && typeof map === 'object' ? (map as JsonObject)[String(i)] : undefined;
      return typeof v === 'string' ? v : `LABEL_${i}`;
    });
  }
}
