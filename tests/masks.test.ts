/** Additive attention masks: exact 0 / finfo(float32).min values, made on the GPU. */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { Tensor, F32_MIN, causalMask, combineMasks, paddingMask } from '../autograd/index.js';
import { attentionMask } from '../nn/models/masks.js';

beforeAll(async () => {
  await gpu();
});

const B = F32_MIN;

/** The mask by its definition: key j visible to query i when j ≤ i + offset. */
function expectedCausal(T: number, S: number, offset: number): number[] {
  return Array.from({ length: T * S }, (_, k) => (k % S <= Math.floor(k / S) + offset ? 0 : B));
}

describe('causalMask', () => {
  it('uses exactly torch.finfo(float32).min for blocked entries', async () => {
    expect(F32_MIN).toBe(-3.4028234663852886e38);
    expect(Math.fround(F32_MIN)).toBe(F32_MIN);
    expect(await causalMask(3).toNested()).toEqual([
      [0, B, B],
      [0, 0, B],
      [0, 0, 0],
    ]);
  });

  it('offsets queries by the cached keys (S − T by default) or any given offset', async () => {
    expect(await causalMask(2, 4).toNested()).toEqual([
      [0, 0, 0, B],
      [0, 0, 0, 0],
    ]);
    for (const [T, S, offset] of [[3, 5, 0], [4, 4, -1], [5, 3, 1], [0, 4, 4], [1, 1, 0]] as const) {
      const m = causalMask(T, S, offset);
      expect(m.shape).toEqual([T, S]);
      expect(Array.from(await m.toArray()), `T=${T} S=${S} offset=${offset}`).toEqual(expectedCausal(T, S, offset));
    }
  });

  it('is generated on the GPU for large sizes', async () => {
    const m = await causalMask(1000, 1024).toArray();
    const expected = expectedCausal(1000, 1024, 24);
    const firstWrong = expected.findIndex((v, k) => m[k] !== v);
    expect(m.length).toBe(expected.length);
    expect(firstWrong, `first wrong element ${firstWrong}: ${m[firstWrong]}`).toBe(-1);
  });

  it('rejects non-integer sizes', () => {
    expect(() => causalMask(2.5)).toThrow('causalMask: T must be a non-negative integer, got 2.5');
    expect(() => causalMask(2, 2, 0.5)).toThrow('causalMask: offset must be an integer, got 0.5');
  });
});

describe('paddingMask', () => {
  it('turns a [B, S] 0/1 attention mask (i32 or f32) into an additive [B, 1, 1, S] mask', async () => {
    const data = [1, 1, 1, 0, 0, 0, 1, 1, 1, 1];
    for (const dtype of ['i32', 'f32'] as const) {
      const m = paddingMask(Tensor.fromArray(data, [2, 5], dtype));
      expect(m.shape).toEqual([2, 1, 1, 5]);
      expect(Array.from(await m.toArray())).toEqual(data.map((v) => (v ? 0 : B)));
    }
    expect(() => paddingMask(Tensor.fromArray([1, 0]))).toThrow('paddingMask: the attention mask must be [batch, keys], got [2]');
  });
});

describe('combineMasks', () => {
  it('broadcasts causal [T, S] with padding [B, 1, 1, S] to [B, 1, T, S] without overflowing to −∞', async () => {
    const pad = paddingMask(Tensor.fromArray([0, 1, 1, 1, 1, 1], [2, 3], 'i32'));
    const m = combineMasks(causalMask(3), pad);
    expect(m.shape).toEqual([2, 1, 3, 3]);
    const values = Array.from(await m.toArray());
    expect(values.every((v) => v === 0 || v === B)).toBe(true);
    expect(await m.toNested()).toEqual([
      [[[B, B, B], [B, 0, B], [B, 0, 0]]],
      [[[0, B, B], [0, 0, B], [0, 0, 0]]],
    ]);
    const single = causalMask(2);
    expect(Array.from(await combineMasks(single).toArray())).toEqual([0, B, 0, 0]);
  });
});

describe("attentionMask (the models' mask)", () => {
  it('combines causal and padding parts without overflowing: an entry blocked twice stays F32_MIN', async () => {
    const m = attentionMask(3, true, [[0, 1, 1], [1, 1, 1]])!;
    expect(m.shape).toEqual([2, 1, 3, 3]);
    // Query 0 of the first row is padded and blocked everywhere: finite, so its softmax is uniform.
    expect(await m.toNested()).toEqual([
      [[[B, B, B], [B, 0, B], [B, 0, 0]]],
      [[[0, B, B], [0, 0, B], [0, 0, 0]]],
    ]);
  });

  it('is the causal part alone, the padding part alone, or nothing', async () => {
    expect(await attentionMask(2, true, [[1, 1]])!.toNested()).toEqual([[[[0, B], [0, 0]]]]);
    expect(await attentionMask(2, false, [[1, 0]])!.toNested()).toEqual([[[[0, B]]]]);
    expect(attentionMask(2, false, [[1, 1]])).toBeNull();
    expect(attentionMask(2, false, undefined)).toBeNull();
  });
});
