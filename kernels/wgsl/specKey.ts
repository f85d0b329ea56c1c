/**
 * Pipeline cache keys derived from a template's spec. A template generator takes one spec object
 * and reads nothing else; its key is the spec serialised canonically (keys sorted, `undefined`
 * fields dropped), so a parameter cannot be left out of the key, and two specs that are equal
 * field by field share one pipeline.
 */

/** A value a template spec may hold: plain data only (no functions, no class instances). */
export type SpecValue = string | number | boolean | null | undefined | readonly SpecValue[] | { readonly [field: string]: SpecValue };

/** Canonical text of a spec value: JSON with object keys sorted and `undefined` fields left out. */
export function canonicalSpec(value: SpecValue): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`template spec: ${value} is not a finite number`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${(value as readonly SpecValue[]).map(canonicalSpec).join(',')}]`;
  const record = value as { readonly [field: string]: SpecValue };
  const fields = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalSpec(record[k])}`);
  return `{${fields.join(',')}}`;
}

/** The pipeline cache key of template `family` run with `spec`: `family/` and the canonical spec. */
export function specKey(family: string, spec: SpecValue): string {
  return `${family}/${canonicalSpec(spec)}`;
}

/**
 * A launch's `key` and `wgsl` from one spec: the generator receives exactly the spec the key was
 * made from, so whatever shapes the WGSL is in the key.
 */
export function templateLaunch<S extends SpecValue>(family: string, spec: S, generate: (spec: S) => string): { key: string; wgsl: () => string } {
  return { key: specKey(family, spec), wgsl: () => generate(spec) };
}
