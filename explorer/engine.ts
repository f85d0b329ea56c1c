/**
 * The explorer's use of the engine: starting it on the page's WebGPU device, loading a model
 * from the server, the forward pass for the predictions and the explanations. Everything runs
 * in the browser tab; the server only hands out files.
 */
import {
  explain,
  init,
  loadModelFromUrl,
  noGrad,
  tidy,
  topPredictions,
  METHOD_NAMES,
  type Explanation,
  type MethodName,
  type ModelInput,
  type PositionAggregation,
  type Prediction,
  type TargetSpec,
  type TransformerModel,
} from '../index.js';

/** Why the page cannot run: no WebGPU, or no adapter/device. The message says what to do. */
export class NoWebGpuError extends Error {
  override name = 'NoWebGpuError';
}

const HOW_TO =
  'Use a browser with WebGPU: Chrome or Edge 113 or newer on Windows, macOS or ChromeOS (on Linux, ' +
  'start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan), Safari 26, or Firefox 141 on ' +
  'Windows. The page must come from http://127.0.0.1 or https (WebGPU needs a secure context).';

/**
 * Starts the engine on `navigator.gpu` (init() asks it for an adapter and a device with the
 * adapter's limits); returns the adapter's description.
 */
export async function startEngine(): Promise<string> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) throw new NoWebGpuError(`This browser has no WebGPU (navigator.gpu is missing${window.isSecureContext ? '' : '; the page is not in a secure context'}). ${HOW_TO}`);
  let info;
  try {
    info = (await init()).adapterInfo;
  } catch (error) {
    throw new NoWebGpuError(`WebGPU is present but gave no usable device (${(error as Error).message.split('. ')[0]}). ${HOW_TO}`);
  }
  const name = [info.vendor, info.architecture, info.description || info.device].filter((s) => s).join(' · ') || 'unnamed adapter';
  return info.isSoftware ? `${name} (a software adapter: slow, fine for small models)` : name;
}

/** Loads a served model folder (config.json, safetensors, tokenizer.json) by its base URL. */
export function loadServedModel(url: string, onProgress: (fraction: number) => void): Promise<TransformerModel> {
  return loadModelFromUrl(new URL(url, window.location.href), { onProgress: (done, total) => onProgress(total > 0 ? done / total : 1) });
}

/** What the page feeds the model, and the text it came from (for character offsets). */
export interface PreparedInput {
  input: ModelInput;
  ids: number[];
  text?: string;
}

/** The top `k` predictions (all classes of a classifier) of one forward pass. */
export async function predict(model: TransformerModel, input: ModelInput, k: number): Promise<Prediction[]> {
  const logits = noGrad(() => tidy(() => model.forward(input, { lastPositionOnly: true })));
  try {
    const values = await logits.toArray();
    return topPredictions(model, values, Math.min(k, values.length));
  } finally {
    logits.dispose();
  }
}

/** The explanation options the page sets. */
export interface ExplainChoice {
  /** An id, or a class label / one token's text (resolved by explain()). */
  target: TargetSpec;
  contrast?: TargetSpec;
  positionAggregation: PositionAggregation;
}

/** Explains one input with every built-in method, in order, reporting each as it starts. */
export async function explainAll(
  model: TransformerModel,
  prepared: PreparedInput,
  choice: ExplainChoice,
  onMethod: (method: MethodName, index: number) => void,
): Promise<Map<MethodName, Explanation>> {
  const out = new Map<MethodName, Explanation>();
  for (const [i, method] of METHOD_NAMES.entries()) {
    onMethod(method, i);
    const options = { method, target: choice.target, positionAggregation: choice.positionAggregation, ...(choice.contrast !== undefined ? { contrast: choice.contrast } : {}) };
    out.set(method, await explain(model, prepared.text !== undefined ? { text: prepared.text } : prepared.input, options));
  }
  return out;
}
