/**
 * Which ids are special (never perturbed) and which id replaces a removed token, read from the
 * model folder's config.json, tokenizer.json and tokenizer_config.json (all optional).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../kernels/errors.js';

/** What a removed token becomes: a vocabulary id, or a zero vector in place of its embedding. */
export type Replacement = { kind: 'id'; id: number } | { kind: 'zero-embedding' };

export type ReplaceOption = 'unk' | 'pad' | 'mask' | 'zero-embedding' | `id:${number}`;

/** `--replace auto`: the first of these the model has (batch scripts over many models use it). */
const AUTO_ORDER = ['unk', 'pad', 'mask'] as const;

export interface TokenInfo {
  specialIds: Set<number>;
  unk?: number;
  pad?: number;
  mask?: number;
}

type Json = Record<string, unknown>;

async function readJson(path: string): Promise<Json | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null;
  } catch (error) {
    throw new InputError(`${path}: not valid JSON (${(error as Error).message})`);
  }
}

/** A tokenizer_config token entry is a string or {content: string}. */
function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Json)['content'] === 'string') return (value as Json)['content'] as string;
  return undefined;
}

function ids(value: unknown): number[] {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return [value];
  if (Array.isArray(value)) return value.flatMap(ids);
  return [];
}

export async function readTokenInfo(dir: string): Promise<TokenInfo> {
  const config = (await readJson(join(dir, 'config.json'))) ?? {};
  const tokenizer = (await readJson(join(dir, 'tokenizer.json'))) ?? {};
  const tokenizerConfig = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};

  const vocab = new Map<string, number>();
  const model = (tokenizer['model'] ?? {}) as Json;
  const modelVocab = model['vocab'];
  if (Array.isArray(modelVocab)) {
    modelVocab.forEach((entry, i) => Array.isArray(entry) && typeof entry[0] === 'string' && vocab.set(entry[0], i)); // Unigram: [piece, score]
  } else if (modelVocab && typeof modelVocab === 'object') {
    for (const [piece, id] of Object.entries(modelVocab as Json)) if (typeof id === 'number') vocab.set(piece, id);
  }
  const specialIds = new Set<number>();
  const added = Array.isArray(tokenizer['added_tokens']) ? (tokenizer['added_tokens'] as Json[]) : [];
  for (const t of added) {
    if (typeof t['content'] === 'string' && typeof t['id'] === 'number') {
      vocab.set(t['content'], t['id']);
      if (t['special'] === true) specialIds.add(t['id']);
    }
  }
  const idOf = (name: string | undefined): number | undefined => (name === undefined ? undefined : vocab.get(name));
  const firstKnown = (...names: (string | undefined)[]): number | undefined => names.map(idOf).find((id) => id !== undefined);

  for (const key of ['pad_token_id', 'bos_token_id', 'eos_token_id', 'cls_token_id', 'sep_token_id', 'decoder_start_token_id']) {
    for (const id of ids(config[key])) specialIds.add(id);
  }
  for (const key of ['bos_token', 'eos_token', 'pad_token', 'cls_token', 'sep_token', 'mask_token']) {
    const id = idOf(tokenName(tokenizerConfig[key]));
    if (id !== undefined) specialIds.add(id);
  }
  const padding = tokenizer['padding'] as Json | null | undefined;
  const info: TokenInfo = { specialIds };
  const unk = firstKnown(tokenName(tokenizerConfig['unk_token']), typeof model['unk_token'] === 'string' ? model['unk_token'] : undefined, '<unk>', '[UNK]');
  const pad = ids(config['pad_token_id'])[0] ?? firstKnown(tokenName(tokenizerConfig['pad_token'])) ?? ids(padding?.['pad_id'])[0] ?? firstKnown('<pad>', '[PAD]');
  const mask = firstKnown(tokenName(tokenizerConfig['mask_token']), '[MASK]', '<mask>');
  if (unk !== undefined) info.unk = unk;
  if (pad !== undefined) info.pad = pad;
  if (mask !== undefined) info.mask = mask;
  return info;
}

/** Resolves `auto` to a concrete option for this model; other options pass through. */
export function concreteReplaceOption(option: ReplaceOption | 'auto', tokens: TokenInfo): ReplaceOption {
  if (option !== 'auto') return option;
  return AUTO_ORDER.find((name) => tokens[name] !== undefined) ?? 'zero-embedding';
}

export function parseReplaceOption(raw: string): ReplaceOption | 'auto' {
  if (raw === 'auto') return raw;
  if (raw === 'unk' || raw === 'pad' || raw === 'mask' || raw === 'zero-embedding') return raw;
  const m = /^id:(\d+)$/.exec(raw);
  if (m) return `id:${Number(m[1])}`;
  throw new InputError(`--replace must be unk, pad, mask, id:N, zero-embedding or auto, got "${raw}"`);
}

/** Resolves --replace against the model's tokens; a token the model lacks is bad input. */
export function resolveReplacement(option: ReplaceOption, tokens: TokenInfo, vocabSize: number): Replacement {
  if (option === 'zero-embedding') return { kind: 'zero-embedding' };
  let id: number | undefined;
  if (option.startsWith('id:')) id = Number(option.slice(3));
  else id = tokens[option as 'unk' | 'pad' | 'mask'];
  if (id === undefined) {
    throw new InputError(`--replace ${option}: the model folder names no ${option} token (use --replace id:N, pad, mask or zero-embedding)`);
  }
  if (id >= vocabSize) throw new InputError(`--replace ${option}: id ${id} is outside the vocabulary (size ${vocabSize})`);
  return { kind: 'id', id };
}
