import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { ELEMENTWISE, elementwise, type ElementwiseDef, type ElementwiseOp } from '../kernels/elementwise.js';
import { refMap, refPermute, refTensor, type RefTensor } from '../kernels/reference/tensor.js';
import { numel } from '../kernels/shape.js';
import { runtime } from '../kernels/runtime.js';
import { gradcheck } from '../autograd/gradcheck.js';
import { wrap } from '../autograd/ops/wrap.js';
import {
  Tensor,
  add,
  applyElementwise,
  contiguous,
  div,
  exp,
  expand,
  geluTanh,
  mul,
  pow,
  scale,
  slice,
  sub,
  sum,
  transpose,
  where,
} from '../autograd/index.js';
import { backward } from '../autograd/backward.js';

beforeAll(async () => {
  await gpu();
});

/** How to draw one input: uniform in [lo, hi], or integers in [lo, hi] (to make ties). */
interface Domain {
  lo: number;
  hi: number;
  ints?: boolean;
}

interface OpCase {
  inputs: Domain[];
  scalars?: number[];
  rtol?: number;
  atol?: number;
  /** Not differentiated (backward-only derivative helpers): gradcheck is skipped, and the test says why. */
  helper?: true;
}

const ANY: Domain = { lo: -3, hi: 3 };
const POSITIVE: Domain = { lo: 0.1, hi: 4 };
const INTS: Domain = { lo: -2, hi: 2, ints: true };
const TRANSCENDENTAL = { rtol: 2e-5, atol: 2e-6 };

/** One entry per kernel op; an op without an entry fails the 'every op has a case' test. */
const CASES: Record<string, OpCase> = {
  copy: { inputs: [ANY] },
  neg: { inputs: [ANY] },
  exp: { inputs: [{ lo: -8, hi: 8 }], ...TRANSCENDENTAL },
  log: { inputs: [POSITIVE], ...TRANSCENDENTAL },
  sqrt: { inputs: [POSITIVE] },
  rsqrt: { inputs: [POSITIVE], rtol: 1e-5 },
  tanh: { inputs: [{ lo: -30, hi: 30 }], ...TRANSCENDENTAL },
  erf: { inputs: [{ lo: -4, hi: 4 }], ...TRANSCENDENTAL },
  geluErf: { inputs: [{ lo: -6, hi: 6 }], ...TRANSCENDENTAL },
  geluTanh: { inputs: [{ lo: -6, hi: 6 }], ...TRANSCENDENTAL },
  silu: { inputs: [{ lo: -20, hi: 20 }], ...TRANSCENDENTAL },
  sigmoid: { inputs: [{ lo: -20, hi: 20 }], ...TRANSCENDENTAL },
  relu: { inputs: [ANY] },
  abs: { inputs: [ANY] },
  sign: { inputs: [INTS] },
  reciprocal: { inputs: [POSITIVE] },
  square: { inputs: [ANY] },
  cos: { inputs: [{ lo: -10, hi: 10 }], ...TRANSCENDENTAL },
  sin: { inputs: [{ lo: -10, hi: 10 }], ...TRANSCENDENTAL },
  affine: { inputs: [ANY], scalars: [-1.5, 0.25] },
  powScalar: { inputs: [ANY], scalars: [3], ...TRANSCENDENTAL },
  geluErfGrad: { inputs: [{ lo: -6, hi: 6 }], ...TRANSCENDENTAL, helper: true },
  geluTanhGrad: { inputs: [{ lo: -6, hi: 6 }], ...TRANSCENDENTAL, helper: true },
  siluGrad: { inputs: [{ lo: -20, hi: 20 }], ...TRANSCENDENTAL, helper: true },
  add: { inputs: [ANY, ANY] },
  sub: { inputs: [ANY, ANY] },
  mul: { inputs: [ANY, ANY] },
  div: { inputs: [ANY, { lo: 0.5, hi: 2 }] },
  pow: { inputs: [{ lo: 0.2, hi: 3 }, { lo: -2, hi: 2 }], ...TRANSCENDENTAL },
  maximum: { inputs: [ANY, ANY] },
  minimum: { inputs: [ANY, ANY] },
  eq: { inputs: [INTS, INTS] },
  ne: { inputs: [INTS, INTS] },
  lt: { inputs: [INTS, INTS] },
  le: { inputs: [INTS, INTS] },
  gt: { inputs: [INTS, INTS] },
  ge: { inputs: [INTS, INTS] },
  stabilizedDiv: { inputs: [ANY, ANY], scalars: [0.1] },
  where: { inputs: [{ lo: 0, hi: 1, ints: true }, ANY, ANY] },
};

function draw(n: number, d: Domain, random: () => number): Float32Array {
  const a = randomArray(n, random, d.lo, d.ints ? d.hi + 1 : d.hi);
  return d.ints ? a.map(Math.floor) : a;
}

/** The op's float64 reference over broadcast reference tensors. */
function reference(op: ElementwiseOp, inputs: RefTensor[], scalars: number[] = []): RefTensor {
  const def: ElementwiseDef = ELEMENTWISE[op];
  return refMap(inputs, (args) => def.ref(args, scalars));
}

const OPS = Object.keys(ELEMENTWISE) as ElementwiseOp[];

describe('every elementwise kernel matches its float64 reference', () => {
  it('every op in ELEMENTWISE has a test case', () => {
    expect(OPS.filter((op) => !CASES[op])).toEqual([]);
  });

  const random = rng(101);
  for (const op of OPS) {
    it(op, async () => {
      const c = CASES[op]!;
      // 111 elements: one per invocation; 108: contiguous f32 in vec4s (the `/v4` kernel).
      for (const [shape, quads] of [[[3, 37], false], [[3, 36], true]] as const) {
        const data = c.inputs.map((d) => draw(numel(shape), d, random));
        const keys: string[] = [];
        const stop = runtime().onDispatch((launch) => keys.push(launch.key));
        const out = wrap(elementwise(op, data.map((v) => Tensor.fromArray(v, [...shape])), c.scalars ?? []));
        stop();
        expect(keys.filter((k) => k.startsWith('elementwise/')).map((k) => k.endsWith('/v4'))).toEqual([quads]);
        expect(out.shape).toEqual(shape);
        const expected = reference(op, data.map((v) => refTensor([...shape], v)), c.scalars);
        expectClose(await out.toArray(), expected.data, { rtol: c.rtol ?? 1e-6, atol: c.atol ?? 1e-7 }, `${op} ${quads ? 'vec4' : 'scalar'}`);
      }
    });
  }

  it('special values (NaN, ±∞, 0) match the references in every argument position', async () => {
    // IEEE semantics: NaN propagates through max/min/relu/sign/tanh, NaN != x is true, a NaN
    // condition is true, x^0 = 1 for every x.
    const special = [NaN, 1.5, -2, 0, Infinity, -Infinity];
    const k = special.length;
    for (const op of OPS) {
      const def: ElementwiseDef = ELEMENTWISE[op];
      const scalars = CASES[op]!.scalars ?? [];
      // one axis per argument, so every combination of special values occurs
      const shapes = Array.from({ length: def.arity }, (_, a) => [k, ...new Array<number>(def.arity - 1 - a).fill(1)]);
      const inputs = shapes.map((shape) => refTensor(shape, special));
      const out = wrap(elementwise(op, shapes.map((shape) => Tensor.fromArray(special, shape)), scalars));
      expectClose(await out.toArray(), reference(op, inputs, scalars).data, { rtol: 1e-5, atol: 0 }, `${op} on special values`);
      // The same combinations as contiguous operands of equal shape (a multiple of 4: the vec4 kernel).
      const combos = Array.from({ length: k ** def.arity * 2 }, (_, i) => Array.from({ length: def.arity }, (_, a) => special[Math.floor(i / k ** a) % k]!));
      const columns = Array.from({ length: def.arity }, (_, a) => combos.map((c) => c[a]!));
      const flat = wrap(elementwise(op, columns.map((v) => Tensor.fromArray(v, [v.length])), scalars));
      const expected = reference(op, columns.map((v) => refTensor([v.length], v)), scalars);
      expectClose(await flat.toArray(), expected.data, { rtol: 1e-5, atol: 0 }, `${op} on special values, vec4`);
    }
  });

  it('pow and powScalar keep NumPy meaning for negative bases: integral exponents work, others give NaN', async () => {
    const a = Tensor.fromArray([-2, -2, -3, 2, 0.25]);
    const b = Tensor.fromArray([3, 2, 0.5, -1, 0.5]);
    const got = await pow(a, b).toArray();
    expectClose(got, [-8, 4, NaN, 0.5, 0.5], { rtol: 1e-6 }, 'pow');
    expectClose(await applyElementwise('powScalar', [Tensor.fromArray([-2, 4])], [0.5]).toArray(), [NaN, 2], { rtol: 1e-6 }, 'powScalar 0.5');
  });

  it('i32 inputs: copy keeps i32 exactly (beyond 2^24); arithmetic converts to f32', async () => {
    const big = [16777217, -2147483647, 7, 2147483647, 0, -1];
    const ids = Tensor.fromArray(big, [2, 3], 'i32');
    const copied = contiguous(transpose(ids));
    expect(copied.dtype).toBe('i32');
    expect(Array.from(await copied.toArray())).toEqual([16777217, 2147483647, -2147483647, 0, 7, -1]);
    const sum2 = add(Tensor.fromArray([1, 2, 3], [3], 'i32'), Tensor.fromArray([0.5]));
    expect(sum2.dtype).toBe('f32');
    expect(Array.from(await sum2.toArray())).toEqual([1.5, 2.5, 3.5]);
  });
});

describe('broadcasting', () => {
  const random = rng(202);
  const cases: { op: ElementwiseOp; shapes: number[][]; out: number[] }[] = [
    { op: 'sub', shapes: [[3, 1], [1, 4]], out: [3, 4] },
    { op: 'div', shapes: [[5], [2, 3, 5]], out: [2, 3, 5] },
    { op: 'sub', shapes: [[], [4, 4]], out: [4, 4] },
    { op: 'sub', shapes: [[4, 4], []], out: [4, 4] },
    { op: 'sub', shapes: [[], []], out: [] },
    { op: 'mul', shapes: [[2, 1, 3], [2, 4, 1]], out: [2, 4, 3] },
    { op: 'sub', shapes: [[1, 1, 1], [3]], out: [1, 1, 3] },
    { op: 'add', shapes: [[0, 3], [1, 3]], out: [0, 3] },
    { op: 'add', shapes: [[2, 0], [2, 1]], out: [2, 0] },
    { op: 'add', shapes: [[0], []], out: [0] },
    { op: 'sub', shapes: [[1001], [1001]], out: [1001] },
    { op: 'sub', shapes: [[7, 333], [333]], out: [7, 333] },
    { op: 'stabilizedDiv', shapes: [[3, 5], [5]], out: [3, 5] },
    { op: 'where', shapes: [[3, 1], [1, 4], []], out: [3, 4] },
    { op: 'where', shapes: [[4], [2, 1, 4], [3, 1]], out: [2, 3, 4] },
  ];
  for (const c of cases) {
    it(`${c.op} ${c.shapes.map((s) => `[${s.join(', ')}]`).join(' × ')} → [${c.out.join(', ')}]`, async () => {
      const def = CASES[c.op]!;
      const data = c.shapes.map((s, k) => draw(numel(s), def.inputs[k]!, random));
      const out = wrap(elementwise(c.op, data.map((v, k) => Tensor.fromArray(v, c.shapes[k])), def.scalars ?? []));
      expect(out.shape).toEqual(c.out);
      const expected = reference(c.op, data.map((v, k) => refTensor(c.shapes[k]!, v)), def.scalars);
      expect(expected.shape).toEqual(c.out);
      expectClose(await out.toArray(), expected.data, { rtol: 1e-6, atol: 1e-7 }, c.op);
    });
  }

  it('incompatible shapes: the error names the op and both shapes', () => {
    const a = Tensor.fromArray(new Float32Array(6), [2, 3]);
    const b = Tensor.fromArray(new Float32Array(20), [4, 5]);
    expect(() => add(a, b)).toThrow('add: shapes [2, 3] and [4, 5] cannot be broadcast together');
    expect(() => mul(a, Tensor.fromArray([1, 2]))).toThrow('mul: shapes [2, 3] and [2] cannot be broadcast together');
    expect(() => where(a, a, b)).toThrow(/where: shapes \[2, 3\] and \[2, 3\] and \[4, 5\]/);
  });

  it('wrong arity or scalar count is refused, naming the op', () => {
    const a = Tensor.fromArray([1, 2]);
    expect(() => elementwise('add', [a])).toThrow('add: expects 2 input(s), got 1');
    expect(() => elementwise('affine', [a], [1])).toThrow('affine: expects 2 scalar(s), got 1');
  });
});

describe('strided inputs and outputs', () => {
  const random = rng(303);

  it('transposed, stepped, offset and expanded views are read in place', async () => {
    const data = randomArray(4 * 9, random, -2, 2);
    const x = Tensor.fromArray(data, [4, 9]);
    const rx = refTensor([4, 9], data);
    const other = randomArray(9 * 4, random, -2, 2);
    // transposed [9, 4] minus a contiguous [9, 4]
    const t = wrap(elementwise('sub', [transpose(x), Tensor.fromArray(other, [9, 4])]));
    expectClose(await t.toArray(), refMap([refPermute(rx, [1, 0]), refTensor([9, 4], other)], ([a, b]) => a! - b!).data, {}, 'transposed');
    // columns 1, 3, 5, 7 of rows 1..2: a stepped view with an offset
    const window = slice(slice(x, 0, 1, 3), 1, 1, 9, 2);
    const expectedWindow = [1, 2].flatMap((r) => [1, 3, 5, 7].map((col) => data[r * 9 + col]!));
    expectClose(await exp(window).toArray(), expectedWindow.map(Math.exp), { rtol: 2e-6 }, 'stepped');
    // an expanded view (stride 0) as the first operand
    const row = Tensor.fromArray([1, 2, 3]);
    const e = wrap(elementwise('sub', [expand(row, [2, 3]), Tensor.fromArray([10, 20, 30, 40, 50, 60], [2, 3])]));
    expect(Array.from(await e.toArray())).toEqual([-9, -18, -27, -39, -48, -57]);
  });

  it('writes into a strided destination view (what slice backward uses)', async () => {
    const dest = Tensor.fromArray(new Float32Array(12), [3, 4]);
    const window = slice(dest, 1, 1, 4, 2); // columns 1 and 3
    elementwise('copy', [Tensor.fromArray([1, 2, 3, 4, 5, 6], [3, 2])], [], window);
    expect(Array.from(await dest.toArray())).toEqual([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6]);
    expect(() => elementwise('copy', [Tensor.fromArray([1, 2])], [], window)).toThrow(/copy: destination f32\[3, 2\] does not match the result f32\[2\]/);
  });

  it('a tensor larger than one dispatch dimension covers (> 65535·256 elements: folded 2-D grid)', async () => {
    const n = 65535 * 256 + 4099;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (i % 2039) - 1000;
    const x = Tensor.fromArray(data);
    const y = scale(x, 0.5, 3);
    const got = await y.toArray();
    let bad = -1;
    for (let i = 0; i < n; i++) {
      if (got[i] !== data[i]! * 0.5 + 3) {
        bad = i;
        break;
      }
    }
    expect(bad).toBe(-1);
    x.dispose();
    y.dispose();
  });
});

describe('gradients of every differentiable elementwise op (gradcheck against the reference)', () => {
  for (const op of OPS) {
    const c = CASES[op];
    if (!c || c.helper) continue;
    it(op, async () => {
      const report = await gradcheck({
        name: op,
        // continuous draws in [lo, hi] (no ties for comparisons); where's condition is fixed 0/1 data
        inputs: c.inputs.map((d, k) =>
          op === 'where' && k === 0 ? { shape: [2, 5], data: [1, 0, 0, 1, 1, 0, 1, 0, 0, 1], grad: false } : { shape: [2, 5], lo: d.lo, hi: d.hi },
        ),
        gpu: (ts) => applyElementwise(op, ts, c.scalars ?? []),
        ref: (rs) => reference(op, rs, c.scalars),
        seed: 7,
      });
      expect(report.ok, JSON.stringify(report)).toBe(true);
    });
  }

  it('derivative helpers (geluErfGrad, geluTanhGrad, siluGrad) are backward-only: they pass no gradient', async () => {
    for (const op of ['geluErfGrad', 'geluTanhGrad', 'siluGrad'] as const) {
      const x = Tensor.fromArray([0.5, -1]).setRequiresGrad();
      backward(sum(applyElementwise(op, [x])));
      expect(x.grad, op).toBeNull();
    }
  });

  it('broadcast operands get gradients summed back to their shapes', async () => {
    const cases: { name: string; shapes: number[][]; gpu: (t: Tensor[]) => Tensor; ref: (r: RefTensor[]) => RefTensor }[] = [
      { name: 'sub [3,1] - [1,4]', shapes: [[3, 1], [1, 4]], gpu: ([a, b]) => sub(a!, b!), ref: (r) => reference('sub', r) },
      { name: 'mul [2,3] * [3]', shapes: [[2, 3], [3]], gpu: ([a, b]) => mul(a!, b!), ref: (r) => reference('mul', r) },
      { name: 'div [2,3] / []', shapes: [[2, 3], []], gpu: ([a, b]) => div(a!, b!), ref: (r) => reference('div', r) },
      { name: 'where [1,4] a:[3,1] b:[]', shapes: [[3, 1], [1, 4], []], gpu: ([c, a, b]) => where(c!, a!, b!), ref: (r) => reference('where', r) },
    ];
    for (const c of cases) {
      const report = await gradcheck({
        name: c.name,
        inputs: c.shapes.map((shape, k) => (c.name.startsWith('where') && k === 0 ? { shape, data: [1, 0, 1], grad: false } : { shape, lo: c.name.startsWith('div') && k === 1 ? 0.5 : -2, hi: 2 })),
        gpu: c.gpu,
        ref: c.ref,
      });
      expect(report.ok, JSON.stringify(report)).toBe(true);
    }
  });

  it('gradients flow through strided views of the input', async () => {
    const report = await gradcheck({
      name: 'geluTanh of a transposed view',
      inputs: [{ shape: [3, 4] }],
      gpu: ([x]) => geluTanh(transpose(x!)),
      ref: ([x]) => reference('geluTanh', [refPermute(x!, [1, 0])]),
    });
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });
});
