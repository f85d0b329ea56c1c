/**
 * The evaluation data: JSONL, one example per line, `{"ids": [...]}` or `{"text": "..."}` with an
 * optional `"label"` (or `"target"`): a class id for classifiers, the next-token id for causal
 * LMs. Other keys are ignored. Every line is checked before anything runs, and errors name the
 * line.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../../kernels/errors.js';
import type { TextTokenizer } from '../../nn/tokenizer.js';

export interface Example {
  /** 0-based index among the file's examples (blank lines are not examples). */
  index: number;
  /** 1-based line number in the file. */
  line: number;
  ids: number[];
  tokenTypeIds?: number[];
  /** The true class / next token; when absent, the unperturbed prediction is used. */
  label?: number;
}

export interface DataLimits {
  vocabSize: number;
  maxPositions: number;
  /** Number of classes (classifier) or vocabulary ids (causal LM) a label may take. */
  classes: number;
  /** Needed only when a line has `text` and no `ids`. */
  tokenizer: () => Promise<TextTokenizer>;
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

export async function readExamples(path: string, limits: DataLimits): Promise<Example[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(`--data ${path}: cannot read (${(error as Error).message})`);
  }
  const examples: Example[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new InputError(`${where}: not valid JSON (${(error as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InputError(`${where}: expected a JSON object`);
    const record = value as Record<string, unknown>;
    const example: Example = { index: examples.length, line: i + 1, ids: [] };
    if (record['ids'] !== undefined) {
      const ids = record['ids'];
      if (!Array.isArray(ids) || !ids.every(isIndex)) throw new InputError(`${where}: "ids" must be an array of non-negative integers`);
      example.ids = ids;
    } else if (typeof record['text'] === 'string') {
      const encoded = (await limits.tokenizer()).encode(record['text']);
      example.ids = encoded.ids;
      example.tokenTypeIds = encoded.tokenTypeIds;
    } else {
      throw new InputError(`${where}: needs "ids" (an array of token ids) or "text" (a string)`);
    }
    if (example.ids.length === 0) throw new InputError(`${where}: the example has no tokens`);
    const bad = example.ids.findIndex((id) => id >= limits.vocabSize);
    if (bad >= 0) throw new InputError(`${where}: id ${example.ids[bad]} at position ${bad} is outside the vocabulary (size ${limits.vocabSize})`);
    if (example.ids.length > limits.maxPositions) {
      throw new InputError(`${where}: ${example.ids.length} tokens, more than max_position_embeddings (${limits.maxPositions})`);
    }
    const label = record['label'] ?? record['target'];
    if (label !== undefined && label !== null) {
      if (!isIndex(label) || label >= limits.classes) {
        throw new InputError(`${where}: label ${JSON.stringify(label)} must be an integer in [0, ${limits.classes})`);
      }
      example.label = label;
    }
    examples.push(example);
  }
  if (examples.length === 0) throw new InputError(`--data ${path}: the file holds no examples`);
  return examples;
}
