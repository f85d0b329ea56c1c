/**
 * Character spans of tokens in the text they were encoded from. tokenizers.js returns no offsets,
 * so each token's decoded text is found in the input: it must come next, after whitespace only.
 * Tokens that cannot be found there (special tokens, a byte-level token holding part of a
 * multi-byte character) get no span of their own; a run of them between two found tokens shares
 * the characters between those (the pieces of one split character get that character), unless
 * those are only whitespace.
 */

/** A token's characters in the input text: `text.slice(start, end)`. */
export interface TokenSpan {
  /** Index of the token's first character. */
  start: number;
  /** Index one past its last character. */
  end: number;
}

/** The piece to look for: word-piece and byte-level/SentencePiece space markers removed. */
function searchable(piece: string): string {
  return piece.replace(/^##/, '').replace(/[Ġ▁]/g, ' ').trim();
}

/** Where `piece` begins at or after `from` with only whitespace before it (case-insensitively as a fallback, for lowercasing tokenizers). */
function findNext(text: string, lower: string, piece: string, from: number, anywhere: boolean): number {
  for (const [haystack, needle] of [[text, piece], [lower, piece.toLowerCase()]] as const) {
    const at = haystack.indexOf(needle, from);
    if (at >= 0 && (anywhere || text.slice(from, at).trim() === '')) return at;
  }
  return -1;
}

/** Spans of the tokens whose decoded texts are `pieces`, in order, in `text` (undefined where not found). */
export function tokenSpans(text: string, pieces: readonly string[]): (TokenSpan | undefined)[] {
  const spans: (TokenSpan | undefined)[] = pieces.map(() => undefined);
  // toLowerCase can change a string's length (İ); then only exact matches are used.
  const lowered = text.toLowerCase();
  const lower = lowered.length === text.length ? lowered : text;
  let cursor = 0;
  let unmatched: number[] = [];
  pieces.forEach((raw, i) => {
    const piece = searchable(raw);
    const at = piece === '' ? -1 : findNext(text, lower, piece, cursor, unmatched.length > 0);
    if (at < 0) {
      unmatched.push(i);
      return;
    }
    const gap = text.slice(cursor, at);
    if (unmatched.length > 0 && gap.trim() !== '') {
      const start = cursor + (gap.length - gap.trimStart().length);
      const end = at - (gap.length - gap.trimEnd().length);
      for (const j of unmatched) spans[j] = { start, end };
    }
    unmatched = [];
    spans[i] = { start: at, end: at + piece.length };
    cursor = at + piece.length;
  });
  const rest = text.slice(cursor);
  if (unmatched.length > 0 && rest.trim() !== '') {
    const start = cursor + (rest.length - rest.trimStart().length);
    for (const j of unmatched) spans[j] = { start, end: start + rest.trim().length };
  }
  return spans;
}
