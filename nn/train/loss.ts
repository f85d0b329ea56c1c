/**
 * Cross-entropy over logits [N, C] with integer labels, averaged over the rows whose label is not
 * `ignoreIndex`. Written in differentiable ops (logSoftmax, then a gather of each row's label
 * entry), so its gradient (softmax − one-hot)/count comes from their backward rules.
 */
import { gather } from '../../autograd/ops/gather.js';
import { scale } from '../../autograd/ops/elementwise.js';
import { sum } from '../../autograd/ops/reduce.js';
import { logSoftmax } from '../../autograd/ops/softmax.js';
import { reshape } from '../../autograd/ops/view.js';
import { Tensor } from '../../autograd/tensor.js';

/** The label that excludes a row from the loss (PyTorch's default `ignore_index`). */
export const IGNORE_INDEX = -100;

/**
 * Mean cross-entropy of logits [N, C] against `labels` (one per row), over the rows not labelled
 * `ignoreIndex`; a scalar tensor. Throws when the shapes disagree.
 */
export function crossEntropy(logits: Tensor, labels: readonly number[], ignoreIndex = IGNORE_INDEX): Tensor {
  if (logits.rank !== 2) throw new Error(`crossEntropy: logits must be [N, C], got [${logits.shape.join(', ')}]`);
  const [N, C] = logits.shape as [number, number];
  if (labels.length !== N) throw new Error(`crossEntropy: ${labels.length} labels for ${N} rows`);
  const picks: number[] = [];
  labels.forEach((label, row) => {
    if (label === ignoreIndex) return;
    if (!Number.isInteger(label) || label < 0 || label >= C) throw new Error(`crossEntropy: label ${label} of row ${row} is outside [0, ${C})`);
    picks.push(row * C + label);
  });
  if (picks.length === 0) throw new Error('crossEntropy: every label is ignored');
  const flat = reshape(logSoftmax(logits), [N * C]);
  const picked = gather(flat, 0, Tensor.fromArray(picks, [picks.length], 'i32'));
  return scale(sum(picked), -1 / picks.length);
}
