/**
 * The autodiff tape: accumulation, retained gradients, noGrad, detach, custom ops, backward-rule
 * overrides (bound at record time), the errors a caller can make, and when the graph's saved
 * buffers are released.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { expectClose } from './helpers/close.js';
import { runtime } from '../kernels/runtime.js';
import {
  Tensor,
  add,
  customOp,
  detach,
  exp,
  isGradEnabled,
  keep,
  mul,
  noGrad,
  reshape,
  scale,
  sign,
  square,
  sum,
  tidy,
  topologicalNodes,
  withBackwardRules,
  type BackwardRule,
} from '../autograd/index.js';
import { backward } from '../autograd/backward.js';

beforeAll(async () => {
  await gpu();
});

const values = async (t: Tensor): Promise<number[]> => Array.from(await t.toArray());
const live = (): number => runtime().memory().liveBytes;

describe('gradient accumulation', () => {
  it('sums the gradients of a leaf used twice, and across two backward passes with retainGraph', async () => {
    const x = Tensor.fromArray([1, 2, 3]).setRequiresGrad();
    const y = sum(add(mul(x, x), x)); // dy/dx = 2x + 1
    backward(y, { retainGraph: true });
    expect(await values(x.grad!)).toEqual([3, 5, 7]);
    backward(y);
    expect(await values(x.grad!)).toEqual([6, 10, 14]);
    expect(() => backward(y)).toThrow(/backward: the graph of .* was already freed, by an earlier backward \(use \{ retainGraph: true \}\)/);
    x.dispose();
    y.dispose();
  });

  it('passes a gradient through ops whose backward returns its incoming gradient (add, reshape)', async () => {
    const data = [0.5, -1, 2];
    const x = Tensor.fromArray(data).setRequiresGrad();
    // add's backward returns the same incoming gradient for both inputs; exp's node runs after it.
    const y = sum(reshape(add(exp(x), x), [3, 1]));
    backward(y);
    expectClose(await x.grad!.toArray(), data.map((v) => Math.exp(v) + 1), { rtol: 1e-6 }, 'd/dx (e^x + x)');
    const z = sum(add(x, x));
    x.grad!.dispose();
    x.grad = null;
    backward(z);
    expect(await values(x.grad!)).toEqual([2, 2, 2]);
    for (const t of [x, y, z]) t.dispose();
  });

  it('keeps a non-leaf gradient only when retainGrad() asked for it', async () => {
    const x = Tensor.fromArray([1, -2, 3]).setRequiresGrad();
    const h = scale(x, 2).retainGrad(); // h = 2x
    const u = exp(h); // not retained
    const y = sum(add(square(h), u)); // dy/dh = 2h + e^h
    backward(y);
    const hv = [2, -4, 6];
    expectClose(await h.grad!.toArray(), hv.map((v) => 2 * v + Math.exp(v)), { rtol: 1e-6 }, 'h.grad');
    expectClose(await x.grad!.toArray(), hv.map((v) => 2 * (2 * v + Math.exp(v))), { rtol: 1e-6 }, 'x.grad');
    expect(u.grad).toBeNull();
    for (const t of [x, h, u, y]) t.dispose();
  });
});

describe('graph control', () => {
  it('records nothing under noGrad, and restores recording afterwards (also after a throw)', async () => {
    const x = Tensor.fromArray([1, 2]).setRequiresGrad();
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return mul(x, x);
    });
    expect(isGradEnabled()).toBe(true);
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    expect(await values(y)).toEqual([1, 4]);
    expect(() => backward(y, { seed: Tensor.fromArray([1, 1]) })).toThrow(/backward: Tensor\(f32\[2\]\) does not require grad/);
    expect(() =>
      noGrad(() => {
        throw new Error('inside');
      }),
    ).toThrow('inside');
    expect(isGradEnabled()).toBe(true);
    const z = mul(x, x);
    expect(z.node?.op).toBe('mul');
    for (const t of [x, y, z]) t.dispose();
  });

  it('detach: identity forward, zero gradient, and a visible node in the graph', async () => {
    const x = Tensor.fromArray([1, -2, 3]).setRequiresGrad();
    const d = detach(x);
    expect(await values(d)).toEqual([1, -2, 3]);
    expect(d.node?.op).toBe('detach');
    const y = sum(mul(d, x)); // gradient only through the second factor: dy/dx = d = x
    const ops = topologicalNodes(y).map((n) => n.op);
    expect(ops).toEqual(['detach', 'mul', 'sum']);
    backward(y);
    expect(await values(x.grad!)).toEqual([1, -2, 3]);
    // A graph made only of a detach gives a zero gradient (no contribution at all).
    const only = sum(detach(x));
    x.grad!.dispose();
    x.grad = null;
    backward(only);
    expect(x.grad).toBeNull();
    for (const t of [x, d, y, only]) t.dispose();
  });
});

describe('custom ops', () => {
  it('runs a user backward: x³ with its analytic derivative', async () => {
    const cube = customOp<undefined>({
      name: 'myCube',
      forward: ([x]) => mul(mul(x!, x!), x!),
      backward: (ctx, g) => [mul(g, scale(square(ctx.inputs[0]!), 3))],
    });
    const x = Tensor.fromArray([1, -2, 0.5]).setRequiresGrad();
    const y = cube([x], undefined);
    expect(y.node?.op).toBe('myCube');
    // forward ran without recording: one node, not three
    expect(topologicalNodes(y).map((n) => n.op)).toEqual(['myCube']);
    expect(await values(y)).toEqual([1, -8, 0.125]);
    backward(sum(y));
    expect(await values(x.grad!)).toEqual([3, 12, 0.75]);
    x.dispose();
    y.dispose();
  });

  it('uses the user backward even where the true derivative differs (straight-through sign)', async () => {
    const steSign = customOp<undefined>({ name: 'steSign', forward: ([x]) => sign(x!), backward: (_ctx, g) => [g] });
    const x = Tensor.fromArray([-0.3, 0.2, 4]).setRequiresGrad();
    const y = sum(mul(steSign([x], undefined), Tensor.fromArray([1, 2, 3])));
    backward(y);
    expect(await values(x.grad!)).toEqual([1, 2, 3]);
    x.dispose();
    y.dispose();
  });

  it('lets a backward return a tensor it does not own (a saved input) without freeing it', async () => {
    // d(a·b)/da = b: return the saved input itself, not a copy.
    const product = customOp<undefined>({
      name: 'productReturningSaved',
      forward: ([a, b]) => mul(a!, b!),
      backward: (ctx) => [ctx.inputs[1]!, ctx.inputs[0]!],
    });
    const a = Tensor.fromArray([1, 2]).setRequiresGrad();
    const b = Tensor.fromArray([3, 4]).setRequiresGrad();
    const y = product([a, b], undefined);
    backward(y, { seed: Tensor.fromArray([1, 1]) });
    expect(await values(a.grad!)).toEqual([3, 4]);
    expect(await values(b.grad!)).toEqual([1, 2]);
    expect(await values(a)).toEqual([1, 2]);
    expect(await values(b)).toEqual([3, 4]);
    for (const t of [a, b, y]) t.dispose();
  });

  it('names the op and both shapes when a backward returns a wrongly shaped gradient, and leaks nothing', () => {
    const bad = customOp<undefined>({ name: 'badShape', forward: ([x]) => scale(x!, 1), backward: () => [Tensor.fromArray([1, 2])] });
    const x = Tensor.fromArray([1, 2, 3]).setRequiresGrad();
    const before = live();
    const y = tidy(() => sum(bad([x], undefined)));
    expect(() => backward(y)).toThrow(/backward of 'badShape': gradient for input 0 has shape \[2\], the input has \[3\]/);
    y.dispose();
    // The graph of y was not released by the failed sweep; a tidy around it does release it.
    tidy(() => {
      const z = sum(bad([x], undefined));
      expect(() => backward(z)).toThrow(/badShape/);
    });
    expect(x.grad).toBeNull();
    // What stays is the saved output of y's 'badShape' node, which the failed sweep never reached
    // (no tidy covered y's graph); the tidy released all of z's graph.
    expect(live() - before).toBe(16);
    x.dispose();
  });
});

describe('backward rules', () => {
  const half: BackwardRule = { name: 'half', backward: (ctx, g) => ctx.defaultBackward(g).map((t) => t && scale(t, 0.5)) };

  it('overrides a built-in backward inside the scope only', async () => {
    const x = Tensor.fromArray([1, 2, 3]).setRequiresGrad();
    const w = Tensor.fromArray([4, 5, 6]);
    const inside = withBackwardRules({ mul: half }, () => {
      const y = sum(mul(x, w));
      backward(y);
      return y;
    });
    expect(await values(x.grad!)).toEqual([2, 2.5, 3]);
    expect(inside.node?.inputs[0]?.node?.rule).toBe('half');
    x.grad!.dispose();
    x.grad = null;

    const outside = sum(mul(x, w));
    backward(outside);
    expect(await values(x.grad!)).toEqual([4, 5, 6]);
    expect(outside.node?.inputs[0]?.node?.rule).toBeUndefined();
    for (const t of [x, w, inside, outside]) t.dispose();
  });

  it('binds the rule when the op is recorded, not when backward runs', async () => {
    const x = Tensor.fromArray([1, 2, 3]).setRequiresGrad();
    const w = Tensor.fromArray([4, 5, 6]);
    const recordedInside = withBackwardRules({ mul: half }, () => sum(mul(x, w)));
    backward(recordedInside); // the scope has ended: the rule still applies
    expect(await values(x.grad!)).toEqual([2, 2.5, 3]);
    x.grad!.dispose();
    x.grad = null;

    const recordedOutside = sum(mul(x, w));
    withBackwardRules({ mul: half }, () => backward(recordedOutside)); // the default applies
    expect(await values(x.grad!)).toEqual([4, 5, 6]);
    for (const t of [x, w, recordedInside, recordedOutside]) t.dispose();
  });

  it('lets inner scopes take precedence and rules replace the gradient entirely', async () => {
    const x = Tensor.fromArray([1, 2]).setRequiresGrad();
    const blocked: BackwardRule = { name: 'block', backward: (ctx) => ctx.inputs.map(() => null) };
    const y = withBackwardRules({ mul: half, exp: half }, () =>
      withBackwardRules({ mul: blocked }, () => sum(add(mul(x, x), exp(x)))),
    );
    const ops = topologicalNodes(y).map((n) => `${n.op}${n.rule ? `:${n.rule}` : ''}`);
    expect(ops).toContain('mul:block');
    expect(ops).toContain('exp:half');
    backward(y);
    expectClose(await x.grad!.toArray(), [0.5 * Math.exp(1), 0.5 * Math.exp(2)], { rtol: 1e-6 }, 'only exp, halved');
    x.dispose();
    y.dispose();
  });
});

describe('backward errors', () => {
  it('refuses a tensor that does not require grad', () => {
    const c = Tensor.fromArray([1]);
    expect(() => backward(c)).toThrow('backward: Tensor(f32[1]) does not require grad (no input of its computation has requiresGrad set)');
    c.dispose();
  });

  it('needs a seed for a non-scalar root, of the root shape', async () => {
    const x = Tensor.fromArray([1, 2, 3]).setRequiresGrad();
    const y = mul(x, x);
    expect(() => backward(y)).toThrow('backward: the root has shape [3]; a non-scalar root needs a seed of the same shape');
    const wrong = Tensor.fromArray([1, 1]);
    expect(() => backward(y, { seed: wrong })).toThrow("backward: seed shape [2] does not match the root's shape [3]");
    const seed = Tensor.fromArray([1, 0, -2]);
    backward(y, { seed });
    expect(await values(x.grad!)).toEqual([2, 0, -12]);
    expect(await values(seed)).toEqual([1, 0, -2]); // the caller's seed is untouched
    for (const t of [x, y, wrong, seed]) t.dispose();
  });

  it('refuses a second backward over a freed graph, also through a shared intermediate', () => {
    const x = Tensor.fromArray([1, 2]).setRequiresGrad();
    const y = sum(mul(x, x));
    backward(y);
    expect(() => backward(y)).toThrow(/was already freed, by an earlier backward \(use \{ retainGraph: true \}\)/);
    const h = mul(x, x);
    const a = sum(h);
    const b = sum(exp(h));
    backward(a); // frees h's node too
    expect(() => backward(b)).toThrow(/backward through 'mul' after its graph was freed: by an earlier backward \(pass \{ retainGraph: true \}/);
    for (const t of [x, y, h, a, b]) t.dispose();
  });
});

describe('graph memory', () => {
  it('releases the graph buffers after backward (and keeps them with retainGraph)', async () => {
    const n = 1024;
    const x = Tensor.fromArray(new Float32Array(n).fill(0.5)).setRequiresGrad();
    const w = Tensor.fromArray(new Float32Array(n).fill(2)).setRequiresGrad();
    const start = live();
    // The intermediates' handles are disposed by tidy; the graph keeps their data for backward.
    const loss = tidy(() => sum(exp(mul(x, w))));
    const withGraph = live();
    expect(withGraph - start).toBeGreaterThanOrEqual(2 * n * 4 + 16); // mul and exp outputs + loss
    backward(loss, { retainGraph: true });
    const retained = live();
    expect(retained - start).toBe(withGraph - start + 2 * n * 4); // + x.grad and w.grad
    x.grad!.dispose();
    w.grad!.dispose();
    x.grad = null;
    w.grad = null;
    backward(loss);
    expect(live() - start).toBe(2 * n * 4 + 16); // only the two grads and the loss remain
    expectClose(await x.grad!.toArray(), new Float32Array(n).fill(2 * Math.exp(1)), { rtol: 1e-6 }, 'x.grad');
    for (const t of [x, w, loss]) t.dispose();
    expect(live()).toBe(start - 2 * n * 4);
  });

  it('frees graphs that are never differentiated when their tidy ends', () => {
    const x = Tensor.fromArray(new Float32Array(256).fill(1)).setRequiresGrad();
    const start = live();
    for (let i = 0; i < 20; i++) tidy(() => sum(exp(mul(x, x))) && undefined);
    expect(live()).toBe(start);
    x.dispose();
  });

  it('keeps the graph of a tensor returned from (or kept in) a tidy, even after the intermediates are gone', async () => {
    const x = Tensor.fromArray([1, 2]).setRequiresGrad();
    const returned = tidy(() => sum(exp(mul(x, x))));
    let kept: Tensor | null = null;
    tidy(() => {
      tidy(() => {
        kept = keep(sum(square(x)));
      });
    });
    backward(returned);
    expectClose(await x.grad!.toArray(), [2 * Math.exp(1), 4 * Math.exp(4)], { rtol: 1e-6 }, 'returned');
    x.grad!.dispose();
    x.grad = null;
    backward(kept!);
    expect(await values(x.grad!)).toEqual([2, 4]);
    for (const t of [x, returned, kept!]) t.dispose();
  });
});

describe('docs/autograd.md example', () => {
  it('runs as written', async () => {
    // --- begin docs/autograd.md example ---
    const w = Tensor.fromArray([1, 2, 3]).setRequiresGrad();
    const x = Tensor.fromArray([4, 5, 6]);
    const loss = tidy(() => sum(mul(exp(w), x))); // intermediates freed, graph kept
    backward(loss); // w.grad = e^w · x; the graph's buffers are released
    const halfMul: BackwardRule = { name: 'half', backward: (ctx, g) => ctx.defaultBackward(g).map((t) => t && scale(t, 0.5)) };
    const loss2 = withBackwardRules({ mul: halfMul }, () => tidy(() => sum(mul(w, x))));
    backward(loss2); // w.grad += 0.5 · x (accumulated)
    console.log(await w.grad!.toArray()); // [4e+2, 5e^2+2.5, 6e^3+3]
    // --- end docs/autograd.md example ---
    expectClose(await w.grad!.toArray(), [4 * Math.E + 2, 5 * Math.E ** 2 + 2.5, 6 * Math.E ** 3 + 3], { rtol: 1e-6 }, 'example');
    for (const t of [w, x, loss, loss2]) t.dispose();
  });

  it('is still the example printed in docs/autograd.md', () => {
    const between = (text: string, from: string, to: string): string => text.slice(text.indexOf(from) + from.length, text.indexOf(to));
    const here = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    const snippet = between(here, '// --- begin docs/autograd.md example ---\n', '    // --- end docs/autograd.md example ---');
    const doc = readFileSync(fileURLToPath(new URL('../docs/autograd.md', import.meta.url)), 'utf8');
    const lines = snippet.split('\n').map((l) => l.trim()).filter(Boolean);
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(doc, `docs/autograd.md lacks: ${line}`).toContain(line);
  });
});
