/** Pieces the families share: the pre-norm residual block with its layer taps, and the LM head. */
import { add } from '../../autograd/ops/elementwise.js';
import { concat } from '../../autograd/ops/concat.js';
import { slice, squeeze, unsqueeze } from '../../autograd/ops/view.js';
import type { Tensor } from '../../autograd/tensor.js';
import type { Parameter } from '../module.js';
import { withModulePath } from '../modulePath.js';
import { tap } from '../taps.js';
import { withResidual } from '../residual.js';
import { InputError } from '../../kernels/errors.js';
import { lmHead, lmHeadRows } from './head.js';
import type { ForwardOptions, LogitRowHead } from './types.js';

/**
 * x + attention(x), then + mlp(x), each sublayer normalising its own input (GPT-2, LLaMA, ViT);
 * the residual stream is tapped where it enters and leaves the block, for per-layer reports.
 */
export function preNormBlock(name: string, x: Tensor, attention: (x: Tensor) => Tensor, mlp: (x: Tensor) => Tensor): Tensor {
  return inBlock(name, () => {
    let h = tap('layer-input', name, x);
    // Each sublayer's output projection also stores h + output (nn/residual.ts), which add() takes.
    h = add(h, withResidual(h, () => attention(h)));
    h = add(h, withResidual(h, () => mlp(h)));
    return tap('layer-output', name, h);
  });
}

/**
 * Runs a block's forward inside its module path (`name`, e.g. `layers.3`: ops between its
 * sublayers, such as residual additions, belong to it) and taps its output as a module output.
 */
export function inBlock(name: string, fn: () => Tensor): Tensor {
  return withModulePath(name, () => tap('module-output', name, fn()));
}

/**
 * Logits of one position from the hidden states [B, T, D]: [B, V]. `onRow` (ForwardOptions.onLogitRow)
 * receives them with their head (the hidden row, and chosen ids' logits from it).
 */
function positionLogits(hidden: Tensor, weight: Parameter, position: number, onRow?: (logits: Tensor, head: LogitRowHead) => void): Tensor {
  const row = slice(hidden, 1, position, position + 1);
  const logits = squeeze(lmHead(row, weight), 1);
  onRow?.(logits, { hidden: row, logitsOf: (ids) => squeeze(lmHeadRows(row, weight, ids), 1) });
  return logits;
}

/**
 * Logits of a causal LM from its normalised final hidden states [B, T, D]: [B, T, V], [B, V]
 * (`lastPositionOnly`) or [B, n, V] (`logitPositions`, see ForwardOptions).
 */
export function causalLmLogits(hidden: Tensor, weight: Parameter, options: ForwardOptions = {}): Tensor {
  const T = hidden.shape[1]!;
  const positions = options.logitPositions;
  const onRow = options.onLogitRow;
  if (positions !== undefined) {
    if (options.lastPositionOnly) throw new InputError('forward: give lastPositionOnly or logitPositions, not both');
    if (positions.length === 0) throw new InputError('forward: logitPositions is empty');
    const rows = positions.map((p, i) => {
      if (!Number.isInteger(p) || p < 0 || p >= T) throw new InputError(`forward: logit position ${p} is outside the sequence (${T} tokens)`);
      return unsqueeze(positionLogits(hidden, weight, p, onRow && ((row, head) => onRow(i, row, head))), 1);
    });
    return rows.length === 1 ? rows[0]! : concat(rows, 1);
  }
  if (!options.lastPositionOnly) return lmHead(hidden, weight);
  return positionLogits(hidden, weight, T - 1, onRow && ((row, head) => onRow(0, row, head)));
}
