/**
 * Reading HF `config.json` values with validation: each accessor names the key and the file when
 * a value is missing or of the wrong type, so a malformed config fails before any weight loads.
 */

export type JsonObject = { [key: string]: unknown };

export class ConfigReader {
  readonly used = new Set<string>();

  constructor(
    readonly raw: JsonObject,
    private readonly source: string,
  ) {}

  private fail(key: string, why: string): never {
    throw new Error(`${this.source}: ${key} ${why}`);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  int(key: string, fallback?: number): number {
    this.used.add(key);
    const v = this.raw[key] ?? fallback;
    if (v === undefined) this.fail(key, 'is missing');
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail(key, `must be a non-negative integer, got ${JSON.stringify(v)}`);
    return v;
  }

  positiveInt(key: string, fallback?: number): number {
    const v = this.int(key, fallback);
    if (v === 0) this.fail(key, 'must be positive');
    return v;
  }

  number(key: string, fallback?: number): number {
    this.used.add(key);
    const v = this.raw[key] ?? fallback;
    if (v === undefined) this.fail(key, 'is missing');
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  }

  string(key: string, fallback?: string): string {
    this.used.add(key);
    const v = this.raw[key] ?? fallback;
    if (v === undefined) this.fail(key, 'is missing');
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, fallback?: boolean): boolean {
    this.used.add(key);
    const v = this.raw[key] ?? fallback;
    if (v === undefined) this.fail(key, 'is missing');
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback?: T): T {
    const v = this.string(key, fallback);
    if (!allowed.includes(v as T)) this.fail(key, `must be one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  }

  /** Number of labels of a classifier: `num_labels`, else the size of `id2label`. */
  numLabels(fallback = 2): number {
    if (this.has('num_labels')) return this.positiveInt('num_labels');
    const map = this.raw['id2label'];
    if (map && typeof map === 'object') return Object.keys(map).length;
    return fallback;
  }

  labels(n: number): string[] {
    const map = this.raw['id2label'];
    return Array.from({ length: n }, (_, i) => {
      const v = map && typeof map === 'object' ? (map as JsonObject)[String(i)] : undefined;
      return typeof v === 'string' ? v : `LABEL_${i}`;
    });
  }
}
