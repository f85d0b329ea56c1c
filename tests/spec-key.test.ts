import { describe, expect, it } from 'vitest';
import { canonicalSpec, specKey, templateLaunch } from '../kernels/wgsl/specKey.js';

describe('pipeline keys derived from template specs', () => {
  it('serialises a spec canonically: keys sorted at every depth, undefined fields dropped', () => {
    const a = canonicalSpec({ b: 1, a: { y: true, x: 'k4' }, c: undefined, d: [2, null] });
    const b = canonicalSpec({ d: [2, null], a: { x: 'k4', y: true }, b: 1 });
    expect(a).toBe('{"a":{"x":"k4","y":true},"b":1,"d":[2,null]}');
    expect(b).toBe(a);
  });

  it('gives different keys to specs that differ in any field, however deep', () => {
    const base = { v: { rows: 16, cols: 8, broadcastA: true }, bias: false, batchRank: 0 };
    const keys = [
      specKey('matmul', base),
      specKey('matmul', { ...base, bias: true }),
      specKey('matmul', { ...base, batchRank: 1 }),
      specKey('matmul', { ...base, v: { ...base.v, broadcastA: false } }),
      specKey('matmul', { ...base, v: { ...base.v, cols: 4 } }),
      specKey('other', base),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('hands the generator exactly the spec its key was made from', () => {
    const spec = { rows: 4, layout: 'mn4' };
    const launch = templateLaunch('t', spec, (s) => `rows ${s.rows} ${s.layout}`);
    expect(launch.key).toBe('t/{"layout":"mn4","rows":4}');
    expect(launch.wgsl()).toBe('rows 4 mn4');
  });

  it('refuses numbers JSON cannot hold', () => {
    expect(() => canonicalSpec({ n: Number.NaN })).toThrow(/not a finite number/);
  });
});
