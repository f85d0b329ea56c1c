/**
 * Relevance anywhere: explain(…, { capture: ['layers.3.mlp'] }) keeps the named modules' outputs
 * (tapped as `module-output` by every module's forward) and returns y ⊙ ĝ_y for each, element by
 * element, so latent (neuron) attributions need no engine changes.
 */
import type { Tensor } from '../autograd/tensor.js';
import type { TransformerModel } from '../nn/models/types.js';
import type { CapturedRelevance } from './result.js';
import { InputError } from '../kernels/errors.js';

export interface Captured {
  path: string;
  tensor: Tensor;
}

/** The requested paths, checked against the model's module paths (an unknown path is an error). */
export function captureSet(model: TransformerModel, capture: readonly string[] | undefined): Set<string> {
  if (!capture || capture.length === 0) return new Set();
  const known = new Set(model.modulePaths());
  for (const path of capture) {
    if (!known.has(path)) {
      const near = [...known].filter((k) => k.startsWith(path.split('.').slice(0, 2).join('.'))).slice(0, 6);
      throw new InputError(`explain: capture: the model has no module "${path}"${near.length > 0 ? ` (e.g. ${near.join(', ')})` : ''}`);
    }
  }
  return new Set(capture);
}

/** Reads each captured relevance tensor (and disposes it); a tensor without gradient reads as zeros. */
export async function readCaptured(captured: readonly Captured[], relevance: readonly (Tensor | null)[]): Promise<CapturedRelevance[]> {
  const out: CapturedRelevance[] = [];
  for (let i = 0; i < captured.length; i++) {
    const { path, tensor } = captured[i]!;
    const r = relevance[i];
    const values = r ? Array.from(await r.toArray()) : new Array<number>(tensor.size).fill(0);
    r?.dispose();
    out.push({ path, shape: [...tensor.shape], relevance: values, total: values.reduce((a, b) => a + b, 0) });
  }
  return out;
}

/** Captured relevance in the order the paths were asked for (a module run twice keeps both, in run order). */
export function inRequestOrder(captured: CapturedRelevance[], capture: ReadonlySet<string>): CapturedRelevance[] {
  const order = [...capture];
  return captured
    .map((c, i) => ({ c, i }))
    .sort((a, b) => order.indexOf(a.c.path) - order.indexOf(b.c.path) || a.i - b.i)
    .map(({ c }) => c);
}
