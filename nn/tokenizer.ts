/**
 * Text → ids through Hugging Face's maintained tokenizers.js (`@huggingface/tokenizers`, reads
 * `tokenizer.json` offline, no dependencies): we never hand-write a BPE.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../kernels/errors.js';
import { isRegularFile, MAX_FILE_BYTES, readBoundedJson } from './files.js';

export interface TextTokenizer {
  encode(text: string): { ids: number[]; tokenTypeIds: number[] };
  /**
   * The text of one token, for display. An id the tokenizer does not know (a model's vocabulary
   * is often padded past the tokenizer's) is shown as `#id`, never as `<unk>` or another token.
   */
  tokenText(id: number): string;
}

async function readObject(path: string, what: string, maxBytes: number): Promise<object> {
  const json = await readBoundedJson(path, what, maxBytes);
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new InputError(`${path}: must hold a JSON object`);
  return json;
}

export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  const path = join(dir, 'tokenizer.json');
  const missing = await stat(path).then(() => false, (error: NodeJS.ErrnoException) => error.code === 'ENOENT');
  if (missing) throw new InputError(`${path}: not found (text input needs the model's tokenizer.json; pass --ids instead)`);
  const json = await readObject(path, "the model's tokenizer.json", MAX_FILE_BYTES.tokenizer);
  const configPath = join(dir, 'tokenizer_config.json');
  const hasConfig = await stat(configPath).then(() => true, (error: NodeJS.ErrnoException) => error.code !== 'ENOENT');
  const config = hasConfig ? await readObject(configPath, 'the tokenizer config', MAX_FILE_BYTES.config) : {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (error) {
    throw new InputError(`${path}: not a tokenizer that tokenizers.js can read (${(error as Error).message})`);
  }
  return {
    encode(text: string) {
      const encoding = tokenizer.encode(text, { return_token_type_ids: true });
      return { ids: [...encoding.ids], tokenTypeIds: [...(encoding.token_type_ids ?? encoding.ids.map(() => 0))] };
    },
    tokenText(id: number) {
      // decode() maps an unknown id to the unknown or end-of-text token: ask id_to_token first.
      const token = tokenizer.id_to_token(id);
      if (token === undefined) return `#${id}`;
      const piece = tokenizer.decode([id]);
      return piece.length > 0 ? piece : token;
    },
  };
}

/** Whether `dir` holds a tokenizer.json (a regular file). */
export async function hasTokenizer(dir: string): Promise<boolean> {
  return isRegularFile(join(dir, 'tokenizer.json'));
}
