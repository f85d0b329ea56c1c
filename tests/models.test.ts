import { beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import { loadModel } from '../nn/folder.js';

import { runtime } from '../kernels/runtime.js';
import { gpu } from './helpers/gpu.js';
import { expectClose } from './helpers/close.js';
import { flatten, modelDir, readReference, referenceInput } from './helpers/fixtures.js';

beforeAll(async () => {
  await gpu();
});

// Fixture logits come from float64 PyTorch forwards of the same weights; f32 on the GPU.
const TOLERANCE = { rtol: 1e-4, atol: 1e-4 };

describe('Hugging Face checkpoints reproduce PyTorch logits', () => {
  const families = ['llama', 'llama-bf16', 'llama-sharded', 'qwen2', 'gpt2', 'gpt2-f16', 'gpt2-nobias', 'gpt2-sinusoidal', 'bert', 'bert-nobias', 'vit'];
  for (const name of families) {
    it(name, async () => {
      const model = await loadModel(modelDir(name));
      try {
        const ref = readReference(name);
        const logits = noGrad(() => tidy(() => model.forward(referenceInput(name))));
        expectClose(await logits.toArray(), flatten(ref.logits), TOLERANCE, `${name} logits`);
        logits.dispose();
        if (ref.logits_last) {
          const last = noGrad(() => tidy(() => model.forward(referenceInput(name), { lastPositionOnly: true })));
          expect(last.shape).toEqual([1, ref.logits_last.length]);
          expectClose(await last.toArray(), ref.logits_last, TOLERANCE, `${name} last-position logits`);
          last.dispose();
        }
      } finally {
        model.dispose();
      }
    });
  }

  it('releases every buffer when the model is disposed', async () => {
    const before = runtime().memory().liveBytes;
    const model = await loadModel(modelDir('gpt2'));
    expect(runtime().memory().liveBytes).toBeGreaterThan(before);
    const logits = noGrad(() => tidy(() => model.forward(referenceInput('gpt2'))));
    logits.dispose();
    model.dispose();
    expect(runtime().memory().liveBytes).toBe(before);
  });
});
