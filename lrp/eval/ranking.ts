/**
 * Orders in which the protocols perturb tokens, and the perturbed-position sets at each step.
 * Only perturbable positions (not special tokens) are ranked; ties keep position order, so a run
 * is deterministic.
 */
import { refUniform } from '../../kernels/reference/random.js';
import { perturbedCount, type Protocol } from './metrics.js';

/** Positions sorted by `key` descending (stable: equal keys keep position order). */
function sortedBy(positions: readonly number[], key: (p: number) => number, descending: boolean): number[] {
  return [...positions].sort((a, b) => {
    const d = descending ? key(b) - key(a) : key(a) - key(b);
    return d !== 0 ? d : a - b;
  });
}

/**
 * The order in which a protocol acts on tokens:
 * - generate: insert the most relevant first (descending relevance);
 * - pruning: remove the least important first (ascending |relevance|);
 * - morf: remove the most relevant first (descending relevance);
 * - lerf: remove the least relevant first (ascending relevance).
 */
export function protocolOrder(protocol: Protocol, scores: readonly number[], positions: readonly number[]): number[] {
  const s = (p: number): number => scores[p]!;
  switch (protocol) {
    case 'generate':
    case 'morf':
      return sortedBy(positions, s, true);
    case 'pruning':
      return sortedBy(positions, (p) => Math.abs(s(p)), false);
    case 'lerf':
      return sortedBy(positions, s, false);
  }
}

/**
 * The set of replaced positions at each step k = 0..steps, as a 0/1 mask over the sequence.
 * Removal protocols replace the first n_k positions of the order; generate starts with every
 * perturbable position replaced and restores the first n_k.
 */
export function replacedMasks(protocol: Protocol, order: readonly number[], length: number, steps: number): Uint8Array[] {
  const masks: Uint8Array[] = [];
  for (let k = 0; k <= steps; k++) {
    const n = perturbedCount(k, steps, order.length);
    const mask = new Uint8Array(length);
    if (protocol === 'generate') {
      for (let i = n; i < order.length; i++) mask[order[i]!] = 1;
    } else {
      for (let i = 0; i < n; i++) mask[order[i]!] = 1;
    }
    masks.push(mask);
  }
  return masks;
}

/** The random baseline's scores: uniform in [0, 1), a function of (seed, example index, position) only. */
export function randomScores(seed: number, exampleIndex: number, length: number): number[] {
  return Array.from({ length }, (_, p) => refUniform(p, [seed >>> 0, exampleIndex >>> 0], 0, 1));
}
