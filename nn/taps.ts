/**
 * Taps: named points in a model's forward where an observer may look at (or replace) a tensor.
 * Models mark their inputs (token embeddings, every positional-encoding tensor) and layer
 * boundaries; without an observer a tap is the identity. LRP uses taps to make the inputs
 * gradient leaves and to measure relevance per layer, without forking the model code.
 */
import type { Tensor } from '../autograd/tensor.js';

/**
 * What a tapped tensor is to an explanation: an input part, a layer boundary, a softmax, a module output or a bias.
 */
export type TapKind =
  /** Token (word / patch / CLS) embeddings: the `token` part of the input. */
  | 'token'
  /** Segment (token-type) embeddings: counted with the token part. */
  | 'segment'
  /** Positional tensors: additive PE, or rotary cos/sin of one layer. */
  | 'position'
  /**
   * A positional bias on one layer's attention logits, [H, T(query), S(key)] (ALiBi): an input
   * like 'position', reported per key position and per relative distance.
   */
  | 'position-bias'
  /** Residual stream entering a block. */
  | 'layer-input'
  /** Residual stream leaving a block. */
  | 'layer-output'
  /** Attention logits entering a softmax (after the mask). */
  | 'softmax-input'
  /** Attention probabilities leaving a softmax. */
  | 'softmax-output'
  /** A module's output (every `Module.scoped` forward, and each block), named by module path. */
  | 'module-output'
  /** A bias parameter as a module reads it (every read, every call): where relevance is absorbed. */
  | 'bias';

/** What a tap says about its tensor beyond kind and name. */
export interface TapInfo {
  /**
   * For `position` taps: the axis of the tensor that indexes sequence positions (negative counts
   * from the end). Relevance per position sums every other axis. Default: rank − 2, the `[…, T, D]`
   * layout of additive tables and rotary cos/sin; a PE family whose tensor is laid out otherwise
   * (an ALiBi bias [H, T, S] with positions on the key axis: −1) says so here.
   */
  positionAxis?: number;
}

/**
 * Sees every tapped tensor while `withTaps` runs and returns the tensor the model continues with
 * (the same one, or a replacement such as a gradient leaf over the same data).
 */
export type TapObserver = (kind: TapKind, name: string, tensor: Tensor, info: TapInfo) => Tensor;

let observer: TapObserver | null = null;

/** Runs `fn` with `obs` seeing (and possibly replacing) every tapped tensor. Not reentrant. */
export function withTaps<T>(obs: TapObserver, fn: () => T): T {
  if (observer) throw new Error('withTaps: an observer is already active');
  observer = obs;
  try {
    return fn();
  } finally {
    observer = null;
  }
}

/**
 * Marks `tensor` as a named point of the forward: the observer's result, or `tensor` itself when none is set.
 */
export function tap(kind: TapKind, name: string, tensor: Tensor, info: TapInfo = {}): Tensor {
  return observer ? observer(kind, name, tensor, info) : tensor;
}
