/**
 * Word-level aggregation: relevance of the tokens that make up one word, summed. Sums keep
 * conservation (Σ words = Σ tokens). Word boundaries come from the tokens' character spans in the
 * input text: recorded ones (`start`/`end`) or, given the text, found by walking it. Without
 * either, from the tokenizers' own markers: a leading space or `Ġ`/`▁` starts a word (GPT-2,
 * LLaMA/SentencePiece), a `##` prefix continues one (BERT WordPiece); a vocabulary without markers
 * (word level) keeps each token a word. Special tokens (`<s>`, `[CLS]`, …) always stand alone.
 */
import type { Explanation, TokenRelevance } from '../result.js';

const SPECIAL = /^(?:<[^<>\s]*>|\[[A-Z]+\]|<\|[^|]*\|>)$/;

/** Character span of a token in the input text, where known. */
interface Span {
  start: number;
  end: number;
}

function recordedSpan(t: TokenRelevance): Span | undefined {
  const { start, end } = t;
  return typeof start === 'number' && typeof end === 'number' ? { start, end } : undefined;
}

/**
 * Spans found by walking the text: each token's text (markers such as Ġ, ▁ and ## removed) must
 * come next, after whitespace only. A token that is not found there (a special token) gets none.
 */
function alignedSpans(tokens: TokenRelevance[], text: string): (Span | undefined)[] {
  let cursor = 0;
  return tokens.map((t) => {
    const piece = t.text.replace(/^##/, '').replace(/[Ġ▁]/g, ' ').trim();
    if (piece === '' || SPECIAL.test(t.text)) return undefined;
    const at = text.indexOf(piece, cursor);
    if (at < 0 || text.slice(cursor, at).trim() !== '') return undefined;
    cursor = at + piece.length;
    return { start: at, end: cursor };
  });
}

/** Whether the tokens carry word-boundary markers at all (word-level vocabularies do not). */
function hasMarkers(tokens: TokenRelevance[]): boolean {
  return tokens.some((t) => /^[\sĠ▁]|^##/.test(t.text));
}

function startsWord(
  t: TokenRelevance,
  span: Span | undefined,
  previous: TokenRelevance | undefined,
  previousSpan: Span | undefined,
  markers: boolean,
): boolean {
  if (!previous) return true;
  if (SPECIAL.test(t.text) || SPECIAL.test(previous.text)) return true;
  // Adjacent spans with no gap between them belong to one word.
  if (span && previousSpan) return span.start > previousSpan.end;
  if (!markers) return true;
  if (t.text.startsWith('##')) return false;
  return /^[\sĠ▁]/.test(t.text) || /\s$/.test(previous.text);
}

/**
 * Returns a copy of the explanation whose `tokens` are words: `index` is the word's index, `id`
 * the first token's id, `text` the tokens' texts joined (`##` markers dropped; the input's own
 * characters when spans and the text are known), `start`/`end` the word's characters where
 * known, and `token`, `position`, `total` the sums. `text` is the input text, for explanations with offsets.
 */
export function aggregateWords(e: Explanation, text?: string): Explanation {
  const words: TokenRelevance[] = [];
  /** For each word, the positions (indices into e.tokens) it is made of. */
  const members: number[][] = [];
  const aligned = text !== undefined ? alignedSpans(e.tokens, text) : [];
  const spans = e.tokens.map((t, i) => recordedSpan(t) ?? aligned[i]);
  const markers = hasMarkers(e.tokens);
  e.tokens.forEach((t, i) => {
    const piece = t.text.startsWith('##') ? t.text.slice(2) : t.text;
    const span = spans[i];
    if (startsWord(t, span, e.tokens[i - 1], spans[i - 1], markers)) {
      const word: TokenRelevance = { index: words.length, id: t.id, text: piece, token: t.token, position: t.position, total: t.total };
      if (span) Object.assign(word, span);
      words.push(word);
      members.push([i]);
    } else {
      const w = words[words.length - 1]!;
      w.text += piece;
      w.token += t.token;
      w.position += t.position;
      w.total += t.total;
      // The word covers its tokens' characters; its text is the input's where that is known.
      if (span && w.start !== undefined) {
        w.end = span.end;
        if (text !== undefined) w.text = text.slice(w.start, w.end);
      }
      members[members.length - 1]!.push(i);
    }
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
