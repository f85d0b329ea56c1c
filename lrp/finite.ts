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
 * Where, in forward order, the first tapped tensor with a non-finite value is: "between the last
 * finite tap and it" (taps sit at layer boundaries and softmaxes, so the op that produced the
 * value lies between the two). After the last tap: the final norm or the output head.
 */
export async function locateFirstNonFiniteTap(tapped: readonly (TapValue & { tensor: Tensor })[]): Promise<string> {
  let previous: TapValue | null = null;
  for (const t of tapped) {
    if (t.tensor.disposed) continue;
    if (firstNonFinite(await t.tensor.toArray()) >= 0) return between(previous, t, 'the input');
    previous = t;
  }
  return `between ${previous ? describeTap(previous) : 'the input'} and the logits (final norm or output head)`;
}

/** "between A (finite) and B (the first non-finite)", or "between <none> and B". */
function between(finite: TapValue | null, nonFinite: TapValue, none: string): string {
  return `between ${finite ? describeTap(finite) : none} and ${describeTap(nonFinite)}`;
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
    return await locateFirstNonFiniteTap(seen);
  } finally {
    for (const t of kept) t.dispose();
  }
}

/** Throws when the logits are not all finite, naming the first layer that produced a NaN or Inf. */
export async function assertFiniteLogits(values: ArrayLike<number>, where: () => Promise<string>): Promise<void> {
  const i = firstNonFinite(values);
  if (i < 0) return;
  throw new ComputationError(
    `the model's output is not finite (logit ${i} is ${values[i]}); the forward pass first produced a non-finite value ${await where()}. ` +
      'Check the checkpoint for NaN/Inf weights and config.json for invalid values.',
  );
}

/**
 * Throws when any relevance is not finite. Relevance flows from the output down, so the layer
 * where it first became non-finite is the last one, in forward order, that holds a non-finite value.
 */
export function assertFiniteRelevance(tapped: readonly (TapValue & { values: number[] })[], bias: number, method: string): void {
  let above: TapValue | null = null;
  for (let i = tapped.length - 1; i >= 0; i--) {
    const t = tapped[i]!;
    if (firstNonFinite(t.values) >= 0) {
      throw new ComputationError(
        `relevance became non-finite ${between(above, t, 'the logits')} in the ${method} backward pass ` +
          '(a rule divided by zero or overflowed; try a larger --epsilon)',
      );
    }
    above = t;
  }
  if (!Number.isFinite(bias)) throw new ComputationError(`the relevance absorbed by biases is not finite (${bias}) in the ${method} backward pass`);
}
