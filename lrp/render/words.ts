/**
 * Word-level aggregation: relevance of the tokens that make up one word, summed. Sums keep
 * conservation (Σ words = Σ tokens). Word boundaries come from the tokens' character offsets in
 * the input text when the explanation has them; otherwise from the tokenizers' own markers: a
 * leading space or `Ġ`/`▁` starts a word (GPT-2, LLaMA/SentencePiece), a `##` prefix continues
 * one (BERT WordPiece), and special tokens (`<s>`, `[CLS]`, …) stand alone.
 */
import type { Explanation, TokenRelevance } from '../result.js';

const SPECIAL = /^(?:<[^<>\s]*>|\[[A-Z]+\]|<\|[^|]*\|>)$/;

/** Character span of a token in the input text, where the explanation records one. */
interface Spanned {
  start?: number;
  end?: number;
}

function startsWord(t: TokenRelevance & Spanned, previous: (TokenRelevance & Spanned) | undefined, text: string | undefined): boolean {
  if (!previous) return true;
  if (SPECIAL.test(t.text) || SPECIAL.test(previous.text)) return true;
  if (text !== undefined && t.start !== undefined && previous.end !== undefined) {
    // Adjacent spans with no whitespace between them belong to one word.
    return t.start > previous.end || /^\s/.test(text.slice(t.start, t.start + 1));
  }
  if (t.text.startsWith('##')) return false;
  return /^[\sĠ▁]/.test(t.text) || /\s$/.test(previous.text);
}

/**
 * Returns a copy of the explanation whose `tokens` are words: `index` is the word's index, `id`
 * the first token's id, `text` the tokens' texts joined (`##` markers dropped), and `token`,
 * `position`, `total` the sums. `text` is the input text, for explanations with offsets.
 */
export function aggregateWords(e: Explanation, text?: string): Explanation {
  const words: TokenRelevance[] = [];
  /** For each word, the positions (indices into e.tokens) it is made of. */
  const members: number[][] = [];
  let previous: (TokenRelevance & Spanned) | undefined;
  (e.tokens as (TokenRelevance & Spanned)[]).forEach((t, i) => {
    const piece = t.text.startsWith('##') ? t.text.slice(2) : t.text;
    if (startsWord(t, previous, text)) {
      words.push({ index: words.length, id: t.id, text: piece, token: t.token, position: t.position, total: t.total });
      members.push([i]);
    } else {
      const w = words[words.length - 1]!;
      w.text += piece;
      w.token += t.token;
      w.position += t.position;
      w.total += t.total;
      members[members.length - 1]!.push(i);
    }
    previous = t;
  });
  const copy: Explanation = { ...e, tokens: words };
  if (e.details) {
    const perWord = (values: number[]): number[] => members.map((m) => m.reduce((s, i) => s + (values[i] ?? 0), 0));
    copy.details = {
      ...e.details,
      positionSigned: perWord(e.details.positionSigned),
      positionAbs: perWord(e.details.positionAbs),
      positionalTensors: e.details.positionalTensors.map((p) => ({ name: p.name, relevance: perWord(p.relevance) })),
    };
  }
  return copy;
}
