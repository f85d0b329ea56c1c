/**
 * Text → ids through Hugging Face's maintained tokenizers.js (`@huggingface/tokenizers`, reads
 * `tokenizer.json` offline, no dependencies): we never hand-write a BPE.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../kernels/errors.js';

export interface TextTokenizer {
  encode(text: string): { ids: number[]; tokenTypeIds: number[] };
  /** The text of one token, for display. */
  tokenText(id: number): string;
}

async function readJson(path: string, required: boolean): Promise<object | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    if (required) throw new InputError(`${path}: not found (text input needs the model's tokenizer.json; pass --ids instead)`);
    return null;
  }
  try {
    return JSON.parse(text) as object;
  } catch (error) {
    throw new InputError(`${path}: not valid JSON (${(error as Error).message})`);
  }
}

export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  const json = await readJson(join(dir, 'tokenizer.json'), true);
  const config = (await readJson(join(dir, 'tokenizer_config.json'), false)) ?? {};
  const tokenizer = new Tokenizer(json!, config);
  return {
    encode(text: string) {
      const encoding = tokenizer.encode(text, { return_token_type_ids: true });
      return { ids: [...encoding.ids], tokenTypeIds: [...(encoding.token_type_ids ?? encoding.ids.map(() => 0))] };
    },
    tokenText(id: number) {
      const piece = tokenizer.decode([id]);
      return piece.length > 0 ? piece : (tokenizer.id_to_token(id) ?? `#${id}`);
    },
  };
}

/** Whether `dir` holds a tokenizer.json. */
export async function hasTokenizer(dir: string): Promise<boolean> {
  return readFile(join(dir, 'tokenizer.json')).then(() => true, () => false);
}
