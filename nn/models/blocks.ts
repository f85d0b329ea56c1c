/** Pieces the families share: the pre-norm residual block with its layer taps, and the LM head. */
import { add } from '../../autograd/ops/elementwise.js';
import { slice, squeeze } from '../../autograd/ops/view.js';
import type { Tensor } from '../../autograd/tensor.js';
import type { Parameter } from '../module.js';
import { withModulePath } from '../modulePath.js';
import { tap } from '../taps.js';
import { lmHead } from './head.js';

/**
 * x + attention(x), then + mlp(x), each sublayer normalising its own input (GPT-2, LLaMA, ViT);
 * the residual stream is tapped where it enters and leaves the block, for per-layer reports.
 */
export function preNormBlock(name: string, x: Tensor, attention: (x: Tensor) => Tensor, mlp: (x: Tensor) => Tensor): Tensor {
  return inBlock(name, () => {
    let h = tap('layer-input', name, x);
    h = add(h, attention(h));
    h = add(h, mlp(h));
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

/** Logits of a causal LM from its normalised final hidden states [B, T, D]: [B, T, V] or [B, V]. */
export function causalLmLogits(hidden: Tensor, weight: Parameter, lastPositionOnly: boolean): Tensor {
  const T = hidden.shape[1]!;
  if (!lastPositionOnly) return lmHead(hidden, weight);
  return squeeze(lmHead(slice(hidden, 1, T - 1, T), weight), 1);
}
