/**
 * The memory soak, short: a tiny GPT-2 with a 50,257-token vocabulary explained a few hundred
 * times (rotating methods, lengths and targets; scripts/soak.ts, the same loop as
 * `npm run bench:soak`). After a warm-up that has seen every length and method, the GPU pool
 * creates no buffer and its live and idle bytes do not move, and process RSS (sampled after a
 * GC: this project runs with --expose-gc) never grows more than 5% past the highest RSS seen in
 * the second half of the warm-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpu } from '../helpers/gpu.js';
import { tempDir } from '../helpers/tempdir.js';
import { loadModel } from '../../nn/folder.js';
import type { TransformerModel } from '../../nn/models/types.js';
import { soak, writeSoakModel, SOAK_VOCAB, type SoakSample } from '../../scripts/soak.js';

// RSS climbs for the first ~250 explanations (native allocator arenas; `npm run bench:soak --
// --count 3000 --warmup 500 --every 250` then holds 297-305 MiB to the end), so the warm-up has
// to cover that; 96 was too short in one CI run (drift 7.5%, plateau reached at ~130).
const WARMUP = 256;
const MEASURED = 128;
const EVERY = 32;

let model: TransformerModel;

beforeAll(async () => {
  await gpu();
  const dir = tempDir('lrp-soak-');
  await writeSoakModel(dir);
  model = await loadModel(dir);
});

afterAll(() => model?.dispose());

describe('memory over repeated explanations (50k vocabulary)', () => {
  it('stays flat after the warm-up: no new pool buffer, same live and idle bytes, RSS grows by less than 5%', async () => {
    expect(model.info.vocabSize).toBe(SOAK_VOCAB);
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe('function');
    const samples: SoakSample[] = [];
    await soak(model, 0, WARMUP + MEASURED, EVERY, (s) => samples.push(s));
    const warm = samples.find((s) => s.done === WARMUP)!;
    const series = samples.map((s) => `${s.done}: ${(s.rssBytes / 2 ** 20).toFixed(1)}`).join(', ');
    const after = samples.filter((s) => s.done > WARMUP);
    expect(after).toHaveLength(MEASURED / EVERY);
    // RSS swings by ±5% between single samples (GC and allocator timing), down as well as up, so
    // one sample is a poor baseline. A leak shows as growth past everything seen at the end of the
    // warm-up: the reference is the highest sample of the warm-up's second half.
    const reference = Math.max(...samples.filter((s) => s.done > WARMUP / 2 && s.done <= WARMUP).map((s) => s.rssBytes));
    for (const s of after) {
      expect(s.poolCreated, `buffers created by ${s.done}`).toBe(warm.poolCreated);
      expect(s.poolLiveBytes, `live bytes at ${s.done}`).toBe(warm.poolLiveBytes);
      expect(s.poolIdleBytes, `idle bytes at ${s.done}`).toBe(warm.poolIdleBytes);
      const growth = (s.rssBytes - reference) / reference;
      expect(growth, `RSS at ${s.done} vs the warm-up's peak (MiB after n explanations: ${series})`).toBeLessThan(0.05);
    }
  });
});
