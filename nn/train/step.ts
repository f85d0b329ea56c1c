/**
 * One training step on the GPU: forward, cross-entropy, backward; then every gradient comes back
 * in one read (concatenated on the GPU), and the leaves' gradients are freed.
 */
import { backward, releaseGraph } from '../../autograd/backward.js';
import { noGrad } from '../../autograd/graph.js';
import { concat } from '../../autograd/ops/concat.js';
import { zeros } from '../../autograd/ops/creation.js';
import { argmax } from '../../autograd/ops/reduce.js';
import { reshape } from '../../autograd/ops/view.js';
import { tidy } from '../../autograd/scope.js';
import type { TransformerModel } from '../models/types.js';
import { crossEntropy } from './loss.js';
import type { TrainableParameters } from './parameters.js';
import type { Example } from './tasks/types.js';

/** Loss and gradients (module layout, one array per parameter) of a batch. */
export async function lossAndGradients(model: TransformerModel, params: TrainableParameters, batch: readonly Example[]): Promise<{ loss: number; grads: Float32Array[] }> {
  const loss = tidy(() => crossEntropy(model.forward({ ids: batch.map((e) => e.ids) }, { lastPositionOnly: true }), batch.map((e) => e.label)));
  try {
    backward(loss);
  } catch (error) {
    releaseGraph(loss);
    loss.dispose();
    throw error;
  }
  const flat = noGrad(() =>
    tidy(() => concat(params.params.map((p) => reshape(p.value.grad ?? zeros(p.spec.shape), [-1])), 0)),
  );
  const [lossValue, all] = await Promise.all([loss.item(), flat.toArray()]);
  loss.dispose();
  flat.dispose();
  for (const p of params.params) {
    p.value.grad?.dispose();
    p.value.grad = null;
  }
  let at = 0;
  const grads = params.sizes.map((n) => {
    const g = new Float32Array(all.buffer, all.byteOffset + at * 4, n).slice();
    at += n;
    return g;
  });
  return { loss: lossValue, grads };
}

/** Fraction of `examples` whose argmax prediction is the label (no gradients, batches of 256). */
export async function accuracy(model: TransformerModel, examples: readonly Pick<Example, 'ids' | 'label'>[]): Promise<number> {
  const predictions = await predict(model, examples);
  return predictions.filter((p, i) => p === examples[i]!.label).length / examples.length;
}

/** Argmax predictions (class, or next token at the last position) for each example's ids. */
export async function predict(model: TransformerModel, examples: readonly Pick<Example, 'ids'>[]): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < examples.length; i += 256) {
    const chunk = examples.slice(i, i + 256);
    const best = noGrad(() => tidy(() => argmax(model.forward({ ids: chunk.map((e) => e.ids) }, { lastPositionOnly: true }), -1)));
    out.push(...(await best.toArray()));
    best.dispose();
  }
  return out;
}
