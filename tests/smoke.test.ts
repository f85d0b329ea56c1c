import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { Tensor, add, mul, sum, exp, transpose, tidy } from '../autograd/index.js';
import { backward } from '../autograd/backward.js';

beforeAll(async () => {
  await gpu();
});

describe('smoke', () => {
  it('adds with broadcasting and differentiates', async () => {
    const a = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]).setRequiresGrad();
    const b = Tensor.fromArray([10, 20, 30]).setRequiresGrad();
    const y = sum(mul(exp(add(a, b)), a));
    void y;
    const c = add(a, b);
    expect(Array.from(await c.toArray())).toEqual([11, 22, 33, 14, 25, 36]);
    const t = transpose(a);
    expect(Array.from(await t.toArray())).toEqual([1, 4, 2, 5, 3, 6]);
    const s = sum(mul(a, b));
    backward(s);
    expect(Array.from(await a.grad!.toArray())).toEqual([10, 20, 30, 10, 20, 30]);
    expect(Array.from(await b.grad!.toArray())).toEqual([5, 7, 9]);
    tidy(() => add(a, a));
  });
});
