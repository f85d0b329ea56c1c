import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose, randomArray, rng } from './helpers/close.js';
import { Tensor, logSoftmax, mul, slice, softmax, sum, transpose } from '../autograd/index.js';
import { gradcheck } from '../autograd/gradcheck.js';
import { refLogSoftmax, refSoftmax } from '../kernels/reference/softmax.js';
import { rowLayout, rowWorkgroupSize, softmaxRows } from '../kernels/softmax.js';
import { runtime } from '../kernels/runtime.js';
import { wrap } from '../autograd/ops/wrap.js';
import { refPermute, refTensor } from '../kernels/reference/tensor.js';
import { backward } from '../autograd/backward.js';

beforeAll(async () => {
  await gpu();
});

const F32_MAX = 3.4028234663852886e38;

async function compare(data: Float32Array, shape: number[], label: string, tol = { rtol: 2e-5, atol: 1e-6 }): Promise<void> {
  const x = Tensor.fromArray(data, shape);
  const ref = refTensor(shape, data);
  expectClose(await softmax(x).toArray(), refSoftmax(ref).data, tol, `${label} softmax`);
  expectClose(await logSoftmax(x).toArray(), refLogSoftmax(ref).data, { rtol: tol.rtol, atol: 1e-5 }, `${label} logSoftmax`);
  x.dispose();
}

describe('softmax and logSoftmax kernels match the float64 reference', () => {
  const random = rng(7);
  const shapes: number[][] = [[1, 1], [4, 1], [5], [3, 7], [2, 3, 33], [4, 256], [3, 257], [2, 5000], [1, 50000]];
  for (const shape of shapes) {
    it(`shape [${shape.join(', ')}]`, async () => {
      const n = shape.reduce((a, b) => a * b, 1);
      await compare(randomArray(n, random, -6, 6), shape, `[${shape}]`);
    });
  }

  it('is max-subtracted: logits of ±1000 neither overflow nor underflow to NaN', async () => {
    const data = randomArray(3 * 40, random, -1000, 1000);
    await compare(data, [3, 40], 'large logits', { rtol: 2e-5, atol: 1e-6 });
  });

  it('rows of any count, including more rows than one dispatch dimension holds (folded grid)', async () => {
    const rows = 70_000;
    await compare(randomArray(rows * 2, random, -3, 3), [rows, 2], 'many rows');
  });

  it('every workgroup size gives the same result (GPUs use 32 to 256; lavapipe uses 64)', async () => {
    const random = rng(5);
    const shape = [3, 1000];
    const data = randomArray(3000, random, -5, 5);
    const x = Tensor.fromArray(data, shape);
    const ref = refSoftmax(refTensor(shape, data)).data;
    for (const wg of [32, 100, 256]) {
      const out = wrap(softmaxRows(x, 'softmax', wg));
      expectClose(await out.toArray(), ref, { rtol: 2e-5, atol: 1e-7 }, `workgroup ${wg}`);
      out.dispose();
    }
    expect(() => softmaxRows(x, 'softmax', 512)).toThrow(/softmax: workgroupSize must be an integer from 1 to 256, got 512/);
    // the policy: GPUs round the row up to a power of two in [32, 256]; software adapters use 64
    expect([1, 32, 33, 200, 50000].map((n) => rowWorkgroupSize(n, false))).toEqual([32, 32, 64, 256, 256]);
    expect([1, 50000].map((n) => rowWorkgroupSize(n, true))).toEqual([64, 64]);
  });

  it('on lavapipe rows go to subgroups (no barriers), and match the one-row-per-workgroup kernel', async () => {
    expect(rowLayout(128)).toEqual({ lanes: 8, subgroup: true });
    expect(rowLayout(128, 64)).toEqual({ lanes: 64, subgroup: false });
    const random = rng(9);
    // Row counts that leave a workgroup of 8 rows part-empty; row lengths below, at and above 8 lanes.
    for (const [rows, n] of [[13, 1], [9, 7], [17, 129], [3, 5000]] as const) {
      const data = randomArray(rows * n, random, -5, 5);
      const x = Tensor.fromArray(data, [rows, n]);
      const keys: string[] = [];
      const stop = runtime().onDispatch((launch) => keys.push(launch.key));
      const viaSubgroups = wrap(softmaxRows(x, 'softmax'));
      stop();
      expect(keys).toEqual(['rows/softmax/sg8']);
      const perWorkgroup = wrap(softmaxRows(x, 'softmax', 64));
      expectClose(await viaSubgroups.toArray(), refSoftmax(refTensor([rows, n], data)).data, { rtol: 2e-5, atol: 1e-7 }, `[${rows}, ${n}]`);
      expectClose(await viaSubgroups.toArray(), await perWorkgroup.toArray(), { rtol: 1e-6, atol: 1e-8 }, `[${rows}, ${n}] against wg64`);
      for (const t of [x, viaSubgroups, perWorkgroup]) t.dispose();
    }
  });

  it('0-d input is one row of one element; empty tensors give empty results', async () => {
    expect(await softmax(Tensor.fromArray(3.5)).item()).toBe(1);
    expect(await logSoftmax(Tensor.fromArray(3.5)).item()).toBe(0);
    expect(softmax(Tensor.fromArray([], [0, 4])).shape).toEqual([0, 4]);
    expect((await softmax(Tensor.fromArray([], [3, 0])).toArray()).length).toBe(0);
  });
});

describe('masking', () => {
  it('a row that is entirely −∞ gives zeros (softmax) and −∞ (logSoftmax), never NaN', async () => {
    const x = Tensor.fromArray([[-Infinity, -Infinity, -Infinity], [0, -Infinity, 1], [-Infinity, 2, -Infinity]]);
    const s = await softmax(x).toArray();
    expect(Array.from(s.slice(0, 3))).toEqual([0, 0, 0]);
    expect(s[4]).toBe(0);
    expect(Array.from(s.slice(6))).toEqual([0, 1, 0]);
    expectClose(s, refSoftmax(refTensor([3, 3], [-Infinity, -Infinity, -Infinity, 0, -Infinity, 1, -Infinity, 2, -Infinity])).data, {}, 'masked');
    const l = await logSoftmax(x).toArray();
    expect(Array.from(l.slice(0, 3))).toEqual([-Infinity, -Infinity, -Infinity]);
    expect(l[4]).toBe(-Infinity);
    expect(l[7]).toBe(0);
  });

  it('a large finite mask (−3.4e38 added) removes positions; a fully masked row is uniform, as in PyTorch', async () => {
    const random = rng(3);
    const n = 300;
    const logits = randomArray(2 * n, random, -4, 4);
    const masked = Float32Array.from(logits, (v, i) => (i % n) % 3 === 0 || i >= n ? v + -3.4e38 : v);
    const s = await softmax(Tensor.fromArray(masked, [2, n])).toArray();
    // row 0: the kept positions are a softmax of their own logits; masked ones are exactly 0
    const kept = Array.from(logits.slice(0, n)).map((v, j) => (j % 3 === 0 ? -Infinity : v));
    expectClose(s.slice(0, n), refSoftmax(refTensor([n], kept)).data, { rtol: 2e-5, atol: 1e-7 }, 'partially masked');
    for (let j = 0; j < n; j += 3) expect(s[j]).toBe(0);
    // row 1: every logit became ≈ −3.4e38 (f32 rounding ties them), so the row is uniform
    expectClose(s.slice(n), new Float64Array(n).fill(1 / n), { rtol: 1e-5 }, 'fully masked');
    // a mask applied twice overflows to −∞: still zeros, not NaN
    const twice = Float32Array.from([1, 2, 3], (v, i) => (i === 1 ? v - F32_MAX - F32_MAX : v));
    expect(twice[1]).toBe(-Infinity);
    const t = await softmax(Tensor.fromArray(twice)).toArray();
    expect(t[1]).toBe(0);
    expectClose(t, refSoftmax(refTensor([3], twice)).data, {}, 'mask twice');
  });
});

describe('views', () => {
  it('non-contiguous inputs (transposed, sliced with a step, offset) are made contiguous first', async () => {
    const random = rng(11);
    const data = randomArray(6 * 9, random, -3, 3);
    const x = Tensor.fromArray(data, [6, 9]);
    const ref = refTensor([6, 9], data);
    const t = transpose(x);
    expect(t.contiguous).toBe(false);
    expectClose(await softmax(t).toArray(), refSoftmax(refPermute(ref, [1, 0])).data, { rtol: 2e-5, atol: 1e-7 }, 'transposed');
    const rows = slice(x, 0, 2, 5); // contiguous with an offset
    expectClose(await softmax(rows).toArray(), refSoftmax(refTensor([3, 9], data.slice(18, 45))).data, { rtol: 2e-5, atol: 1e-7 }, 'offset');
    const strided = slice(x, 1, 1, 9, 3); // columns 1, 4, 7
    const expected = refTensor([6, 3], Array.from({ length: 18 }, (_, i) => data[Math.floor(i / 3) * 9 + 1 + (i % 3) * 3]!));
    expectClose(await logSoftmax(strided).toArray(), refLogSoftmax(expected).data, { rtol: 2e-5, atol: 1e-6 }, 'step');
  });

  it('refuses i32 input, naming the op and the shape', () => {
    const ids = Tensor.fromArray([1, 2, 3], [3], 'i32');
    expect(() => softmax(ids)).toThrow(/softmax: .*i32.*\[3\]/);
    expect(() => logSoftmax(ids)).toThrow(/logSoftmax: /);
  });
});

describe('gradients', () => {
  it('softmax: gradcheck, including rows of length 1 and long rows', async () => {
    for (const shape of [[3, 5], [4, 1], [2, 70]]) {
      const report = await gradcheck({ name: `softmax [${shape}]`, inputs: [{ shape, lo: -3, hi: 3 }], gpu: ([x]) => softmax(x!), ref: ([x]) => refSoftmax(x!) });
      expect(report.forwardError).toBeLessThan(1e-6);
      expect(report.ok, JSON.stringify(report)).toBe(true);
    }
  });

  it('softmax of a transposed view: gradcheck (the input is copied, the gradient is not)', async () => {
    const report = await gradcheck({
      name: 'softmax of a transpose',
      inputs: [{ shape: [6, 3], lo: -3, hi: 3 }],
      gpu: ([x]) => softmax(transpose(x!)),
      ref: ([x]) => refSoftmax(refPermute(x!, [1, 0])),
    });
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });

  it('logSoftmax: gradcheck', async () => {
    const report = await gradcheck({ name: 'logSoftmax', inputs: [{ shape: [2, 3, 6], lo: -3, hi: 3 }], gpu: ([x]) => logSoftmax(x!), ref: ([x]) => refLogSoftmax(x!) });
    expect(report.forwardError).toBeLessThan(1e-5);
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });

  it('masked positions and fully masked rows get a zero gradient', async () => {
    const data = [0.3, -Infinity, 1.2, -0.5, -Infinity, -Infinity, -Infinity, -Infinity];
    const report = await gradcheck({ name: 'softmax masked', inputs: [{ shape: [2, 4], data }], gpu: ([x]) => softmax(x!), ref: ([x]) => refSoftmax(x!) });
    expect(report.ok, JSON.stringify(report)).toBe(true);
    const x = Tensor.fromArray(data, [2, 4]).setRequiresGrad();
    backward(sum(mul(softmax(x), Tensor.fromArray([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]))));
    const g = await x.grad!.toArray();
    // exactly zero (either sign)
    expect(Math.abs(g[1]!)).toBe(0);
    expect(Array.from(g.slice(4), Math.abs)).toEqual([0, 0, 0, 0]);
    expect(Array.from(g).every(Number.isFinite)).toBe(true);
  });

  it('records one node named softmax (the name LRP rules override)', () => {
    const x = Tensor.fromArray([[1, 2, 3]]).setRequiresGrad();
    expect(softmax(x).node!.op).toBe('softmax');
    expect(logSoftmax(x).node!.op).toBe('logSoftmax');
  });
});

describe('PyTorch fixtures (tests/fixtures/ops.json)', () => {
  interface T { shape: number[]; data: number[] }
  interface Case { name: string; case: string; inputs: Record<string, T>; output: T; w: T; grads: Record<string, T> }
  const fixtures = JSON.parse(readFileSync(new URL('./fixtures/ops.json', import.meta.url), 'utf8')) as { ops: Case[] };
  const cases = fixtures.ops.filter((c) => c.name === 'softmax' || c.name === 'log_softmax');

  it('has the softmax and log_softmax cases', () => {
    expect(cases.map((c) => c.name).sort()).toEqual(['log_softmax', 'softmax']);
  });

  for (const c of cases) {
    it(`${c.name} ${c.case}: output and gradient of sum(out·w)`, async () => {
      const x = Tensor.fromArray(c.inputs.x!.data, c.inputs.x!.shape).setRequiresGrad();
      const y = c.name === 'softmax' ? softmax(x) : logSoftmax(x);
      expectClose(await y.toArray(), c.output.data, { rtol: 1e-5, atol: 1e-6 }, `${c.name} output`);
      backward(sum(mul(y, Tensor.fromArray(c.w.data, c.w.shape))));
      expectClose(await x.grad!.toArray(), c.grads.x!.data, { rtol: 1e-4, atol: 1e-6 }, `${c.name} grad`);
    });
  }
});
