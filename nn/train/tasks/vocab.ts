/** Helpers for word-level vocabularies: ids by word, text of an example. */
export const LETTERS = 'abcdefghijklmnop'.split('');

export function indexer(vocab: readonly string[]): (word: string) => number {
  const ids = new Map(vocab.map((w, i) => [w, i]));
  return (word) => {
    const id = ids.get(word);
    if (id === undefined) throw new Error(`vocabulary has no word "${word}"`);
    return id;
  };
}

/** The text of `ids` as words joined by spaces, leaving out a leading [CLS] the tokenizer adds back. */
export function textOf(vocab: readonly string[], ids: readonly number[], prependCls: boolean): string {
  return (prependCls ? ids.slice(1) : ids).map((id) => vocab[id]!).join(' ');
}
