/** Paths and readers for the committed PyTorch fixtures (tests/fixtures, see its README). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelInput } from '../../nn/models/types.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const modelDir = (name: string): string => join(FIXTURES, 'models', name);

/** A padded batch and its reference logits (see tests/fixtures/README.md). */
export interface PaddedReference {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids?: number[][];
  logits: number[][] | number[][][];
}

export interface ModelReference {
  input_ids?: number[][];
  token_type_ids?: number[][];
  attention_mask?: number[][];
  pixel_values?: number[][][];
  logits: number[] | number[][];
  logits_last?: number[];
  text?: string;
  padded?: PaddedReference;
  padded_left?: PaddedReference;
}

export function readReference(name: string): ModelReference {
  return JSON.parse(readFileSync(join(modelDir(name), 'reference.json'), 'utf8')) as ModelReference;
}

export function flatten(values: unknown): number[] {
  return Array.isArray(values) ? values.flatMap(flatten) : [values as number];
}

/** The fixture's own input as a model input: its ids (with token types and attention mask where given), or its pixel values. */
export function referenceInput(name: string): ModelInput {
  const ref = readReference(name);
  if (ref.pixel_values) {
    const [c, h, w] = [ref.pixel_values.length, ref.pixel_values[0]!.length, ref.pixel_values[0]![0]!.length];
    return { pixelValues: { data: Float32Array.from(flatten(ref.pixel_values)), shape: [1, c, h, w] } };
  }
  const input: ModelInput = { ids: ref.input_ids! };
  if (ref.token_type_ids) input.tokenTypeIds = ref.token_type_ids;
  if (ref.attention_mask) input.attentionMask = ref.attention_mask;
  return input;
}
