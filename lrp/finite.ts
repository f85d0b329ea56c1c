/**
 * Non-finite results are errors, never `null` in the JSON: a NaN or Inf logit or relevance throws
 * a ComputationError that names the first layer (tap) where the non-finite value appeared, in the
 * forward pass (NaN/Inf weights, overflow) or in the backward pass (a rule dividing 0 by 0).
 */
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { ComputationError } from '../kernels/errors.js';
import type { ModelInput, TransformerModel } from '../nn/models/types.js';
import { withTaps, type TapKind } from '../nn/taps.js';

export interface TapValue {
  kind: TapKind;
  name: string;
}

/** The index of the first NaN or ±Inf in `values`, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

export function describeTap(t: TapValue): string {
  return `${t.name} (${t.kind})`;
}

/**
 * The first tap, in forward order, whose tensor holds a non-finite value; null when every tapped
 * tensor is finite (the value then appeared after the last tap: final norm or output head).
 */
export async function firstNonFiniteTap<T extends TapValue & { tensor: Tensor }>(tapped: readonly T[]): Promise<T | null> {
  for (const t of tapped) {
    if (t.tensor.disposed) continue;
    if (firstNonFinite(await t.tensor.toArray()) >= 0) return t;
  }
  return null;
}

/** Runs the forward again with every tap recorded and names where a non-finite value first appeared. */
export async function locateNonFiniteForward(model: TransformerModel, input: ModelInput): Promise<string> {
  const seen: (TapValue & { tensor: Tensor })[] = [];
  const kept = noGrad(() =>
    tidy(() =>
      withTaps(
        (kind, name, tensor) => {
          seen.push({ kind, name, tensor });
          return tensor;
        },
        () => {
          const out = model.forward(input, { lastPositionOnly: true });
          return [out, ...seen.map((s) => s.tensor)];
        },
      ),
    ),
  );
  try {
    const first = await firstNonFiniteTap(seen);
    return first ? describeTap(first) : 'the output head (after the last layer)';
  } finally {
    for (const t of kept) t.dispose();
  }
}

/** Throws when the logits are not all finite, naming the first layer that produced a NaN or Inf. */
export async function assertFiniteLogits(values: ArrayLike<number>, where: () => Promise<string>): Promise<void> {
  const i = firstNonFinite(values);
  if (i < 0) return;
  throw new ComputationError(
    `the model's output is not finite (logit ${i} is ${values[i]}); the forward pass first produced a non-finite value at ${await where()}. ` +
      'Check the checkpoint for NaN/Inf weights and config.json for invalid values.',
  );
}

/**
 * Throws when any relevance is not finite. Relevance flows from the output down, so the layer
 * where it first became non-finite is the last one, in forward order, that holds a non-finite value.
 */
export function assertFiniteRelevance(tapped: readonly (TapValue & { values: number[] })[], bias: number, method: string): void {
  for (let i = tapped.length - 1; i >= 0; i--) {
    const t = tapped[i]!;
    if (firstNonFinite(t.values) >= 0) {
      throw new ComputationError(`relevance became non-finite at ${describeTap(t)} in the ${method} backward pass (a rule divided by zero or overflowed; try a larger --epsilon)`);
    }
  }
  if (!Number.isFinite(bias)) throw new ComputationError(`the relevance absorbed by biases is not finite (${bias}) in the ${method} backward pass`);
}
