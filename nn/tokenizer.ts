/**
 * Text → ids through Hugging Face's maintained tokenizers.js (`@huggingface/tokenizers`, reads
 * `tokenizer.json` offline, no dependencies): we never hand-write a BPE.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../kernels/errors.js';
import { tokenSpans, type TokenSpan } from './offsets.js';
import { MAX_FILE_BYTES, readJsonObject, type ModelSource } from './source.js';

export type { TokenSpan } from './offsets.js';

export interface EncodedText {
  ids: number[];
  tokenTypeIds: number[];
  /** Per token, its characters in the text (`text.slice(start, end)`), or undefined (special tokens). */
  spans: (TokenSpan | undefined)[];
}

export interface TextTokenizer {
  /** Encodes `text` as the model expects it (special tokens added). */
  encode(text: string): EncodedText;
  /**
   * The id of the one token `text` encodes to without special tokens, or undefined when it
   * encodes to none, to several, or to the unknown token.
   */
  tokenId(text: string): number | undefined;
  /**
   * The text of one token, for display. An id the tokenizer does not know (a model's vocabulary
   * is often padded past the tokenizer's) is shown as `#id`, never as `<unk>` or another token.
   */
  tokenText(id: number): string;
}

/**
 * The tokenizer of a model source (its tokenizer.json, and tokenizer_config.json when present).
 * In Node, `loadTokenizer(dir)` (nn/folder.ts) reads it from a folder.
 */
export async function loadTokenizerFrom(source: ModelSource): Promise<TextTokenizer> {
  const path = source.locate('tokenizer.json');
  if (!(await source.exists('tokenizer.json'))) throw new InputError(`${path}: not found (text input needs the model's tokenizer.json; pass --ids instead)`);
  const json = await readJsonObject(source, 'tokenizer.json', "the model's tokenizer.json", MAX_FILE_BYTES.tokenizer);
  const hasConfig = await source.exists('tokenizer_config.json');
  const config = hasConfig ? await readJsonObject(source, 'tokenizer_config.json', 'the tokenizer config', MAX_FILE_BYTES.config) : {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (error) {
    throw new InputError(`${path}: not a tokenizer that tokenizers.js can read (${(error as Error).message})`);
  }
  const unknownId = unknownTokenId(json, config, tokenizer);
  const tokenText = (id: number): string => {
    // decode() maps an unknown id to the unknown or end-of-text token: ask id_to_token first.
    const token = tokenizer.id_to_token(id);
    if (token === undefined) return `#${id}`;
    const piece = tokenizer.decode([id]);
    return piece.length > 0 ? piece : token;
  };
  return {
    encode(text: string) {
      const encoding = tokenizer.encode(text, { return_token_type_ids: true });
      const ids = [...encoding.ids];
      return {
        ids,
        tokenTypeIds: [...(encoding.token_type_ids ?? encoding.ids.map(() => 0))],
        spans: tokenSpans(text, ids.map(tokenText)),
      };
    },
    tokenId(text: string) {
      const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
      if (ids.length !== 1) return undefined;
      const id = ids[0]!;
      // A word-level vocabulary encodes any unknown word to one token, [UNK]: that is no match.
      return id === unknownId && text.trim() !== tokenizer.id_to_token(id) ? undefined : id;
    },
    tokenText,
  };
}

/** The id of the unknown token (`model.unk_token` in tokenizer.json, else `unk_token` in its config), if any. */
function unknownTokenId(json: object, config: object, tokenizer: Tokenizer): number | undefined {
  const model = (json as { model?: { unk_token?: unknown } }).model;
  const configured = (config as { unk_token?: unknown }).unk_token;
  const name = typeof model?.unk_token === 'string' ? model.unk_token : typeof configured === 'string' ? configured : undefined;
  return name === undefined ? undefined : tokenizer.token_to_id(name);
}
