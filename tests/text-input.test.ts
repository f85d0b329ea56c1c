/**
 * Text first (issue 14): explain(model, { text }) through the tokenizer loadModel attaches,
 * character offsets per token, targets and contrasts named by token string or class label,
 * the target's text in every renderer, and `lrp forward --top-k`.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../kernels/errors.js';
import { explain } from '../lrp/explain.js';
import { aggregateWords, renderAnsi, renderHtml, renderSvg, renderTikz } from '../lrp/render/index.js';
import type { Explanation } from '../lrp/result.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { tokenSpans } from '../nn/offsets.js';
import { loadTokenizer } from '../nn/folder.js';
import { tempDir } from './helpers/tempdir.js';
import { gpu } from './helpers/gpu.js';
import { modelDir } from './helpers/fixtures.js';
import { sampleExplanation } from './helpers/sample-explanation.js';
import { runCli } from './helpers/cli.js';

const sentimentDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'models', 'sentiment');
let sentiment: TransformerModel;
let gpt2: TransformerModel;

beforeAll(async () => {
  await gpu();
  [sentiment, gpt2] = await Promise.all([loadModel(sentimentDir), loadModel(modelDir('gpt2'))]);
});

afterAll(() => {
  sentiment?.dispose();
  gpt2?.dispose();
});

const run = runCli;

describe('character offsets of tokens (tokenSpans)', () => {
  it('finds each token after whitespace only, and leaves special tokens without a span', () => {
    const text = 'the  movie\twas';
    expect(tokenSpans(text, ['[CLS]', 'the', 'movie', 'was', '[SEP]'])).toEqual([undefined, { start: 0, end: 3 }, { start: 5, end: 10 }, { start: 11, end: 14 }, undefined]);
  });

  it('strips byte-level and SentencePiece space markers and WordPiece ##, and matches a lowercasing tokenizer', () => {
    expect(tokenSpans('Hello world', ['ĠHello', '▁wor', '##ld'])).toEqual([{ start: 0, end: 5 }, { start: 6, end: 9 }, { start: 9, end: 11 }]);
    expect(tokenSpans('The Cat', ['the', 'cat'])).toEqual([{ start: 0, end: 3 }, { start: 4, end: 7 }]);
  });

  it('the byte-level pieces of one split character share that character', () => {
    // "é" is two bytes: a byte-level BPE may give each its own token, decoded alone as U+FFFD.
    expect(tokenSpans('héllo wörld', ['h', '\ufffd', '\ufffd', 'llo', ' w', '\ufffd', '\ufffd', 'rld'])).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 2 },
      { start: 1, end: 2 },
      { start: 2, end: 5 },
      { start: 6, end: 7 },
      { start: 7, end: 8 },
      { start: 7, end: 8 },
      { start: 8, end: 11 },
    ]);
    expect(tokenSpans('ok é', ['ok', '\ufffd', '\ufffd'])).toEqual([{ start: 0, end: 2 }, { start: 3, end: 4 }, { start: 3, end: 4 }]);
  });
});

/** GPT-2's byte ↔ character table (bytes_to_unicode): printable bytes map to themselves. */
function byteLevelAlphabet(): string[] {
  const printable = (b: number): boolean => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  let shifted = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : 256 + shifted++));
}

describe('offsets through a real byte-level BPE (tokenizers.js)', () => {
  it('GPT-2-style tokens: Ġ-prefixed pieces, a lone space, and the two byte tokens of é', async () => {
    const vocab: Record<string, number> = {};
    byteLevelAlphabet().forEach((c, i) => (vocab[c] = i));
    const merges = ['Ġ c', 'Ġc a', 'Ġca t'];
    for (const m of merges) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
    const dir = tempDir('lrp-bytelevel-');
    const json = { model: { type: 'BPE', vocab, merges, unk_token: null }, normalizer: null, post_processor: null, added_tokens: [], pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true }, decoder: { type: 'ByteLevel' } };
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
    const tokenizer = await loadTokenizer(dir);
    const text = 'the cat héllo';
    const encoded = tokenizer.encode(text);
    // t h e Ġcat Ġ h Ã © l l o: "é" is two bytes, each its own token.
    expect(encoded.ids).toHaveLength(11);
    expect(encoded.spans.map((s) => (s ? text.slice(s.start, s.end) : null))).toEqual(['t', 'h', 'e', 'cat', null, 'h', 'é', 'é', 'l', 'l', 'o']);
    expect(tokenizer.tokenId(' cat')).toBe(vocab['Ġcat']);
    expect(tokenizer.tokenId('cat')).toBeUndefined();
  });
});

describe('explain(model, { text })', () => {
  const text = 'the movie was  not good';

  it('loadModel attaches the folder tokenizer; text gives the same relevance as its ids, with token texts and offsets', async () => {
    expect(sentiment.tokenizer).toBeDefined();
    const fromText = await explain(sentiment, { text }, { method: 'cp-lrp' });
    const ids = sentiment.tokenizer!.encode(text).ids;
    expect(ids).toEqual([1, 13, 14, 17, 2, 3]);
    const fromIds = await explain(sentiment, { ids: [ids] }, { method: 'cp-lrp' });
    expect(fromText.tokens.map((t) => t.token)).toEqual(fromIds.tokens.map((t) => t.token));
    expect(fromText.tokens.map((t) => t.text)).toEqual(['[CLS]', 'the', 'movie', 'was', 'not', 'good']);
    // Ids alone: token texts from the tokenizer, no offsets.
    expect(fromIds.tokens.map((t) => t.text)).toEqual(fromText.tokens.map((t) => t.text));
    expect(fromIds.tokens.every((t) => t.start === undefined && t.end === undefined)).toBe(true);
    expect(fromText.tokens[0]!.start).toBeUndefined();
    expect(fromText.tokens.slice(1).map((t) => [t.start, t.end])).toEqual([[0, 3], [4, 9], [10, 13], [15, 18], [19, 23]]);
    for (const t of fromText.tokens.slice(1)) expect(text.slice(t.start, t.end)).toBe(t.text);
  });

  it('refuses text without a tokenizer, and empty text', async () => {
    const tokenizer = gpt2.tokenizer;
    try {
      delete gpt2.tokenizer;
      await expect(explain(gpt2, { text: 'the cat' }, { method: 'gi' })).rejects.toThrow(/text input needs the model's tokenizer/);
    } finally {
      gpt2.tokenizer = tokenizer;
    }
    await expect(explain(gpt2, { text: '  ' }, { method: 'gi' })).rejects.toBeInstanceOf(InputError);
    await expect(explain(gpt2, { text: 'the cat', ids: [[4]] } as never, { method: 'gi' })).rejects.toThrow(/give text or ids \(or pixels\), not both/);
  });

  it('word aggregation keeps the recorded offsets and takes the words from the text', () => {
    const e = sampleExplanation();
    const text = 'The quickbrown';
    e.tokens = e.tokens.slice(1, 4).map((t, index) => ({ ...t, index }));
    e.tokens[0] = { ...e.tokens[0]!, start: 0, end: 3 };
    e.tokens[1] = { ...e.tokens[1]!, text: 'quick', start: 4, end: 9 };
    e.tokens[2] = { ...e.tokens[2]!, text: 'brown', start: 9, end: 14 };
    const words = aggregateWords(e, text).tokens;
    expect(words.map((w) => [w.text, w.start, w.end])).toEqual([['The', 0, 3], ['quickbrown', 4, 14]]);
    expect(words[1]!.token).toBeCloseTo(2.5 - 1.75, 12);
  });
});

describe('targets and contrasts by token string or class label', () => {
  it('a classifier takes its id2label labels', async () => {
    const e = await explain(sentiment, { text: 'the movie was not good' }, { method: 'gi', target: 'positive', contrast: 'negative' });
    expect([e.target, e.targetText, e.contrast, e.contrastText]).toEqual([1, 'positive', 0, 'negative']);
    await expect(explain(sentiment, { text: 'the movie' }, { method: 'gi', target: 'neutral' })).rejects.toThrow(/target "neutral" is not a class label of this model \(labels: negative, positive/);
    await expect(explain(sentiment, { text: 'the movie' }, { method: 'gi', target: 'negative', contrast: 0 })).rejects.toThrow(/contrast 0 is the target itself/);
  });

  it('a causal LM takes a string that is exactly one token', async () => {
    const ids = gpt2.tokenizer!.encode('the cat sat').ids;
    const cat = gpt2.tokenizer!.tokenId('cat')!;
    expect(cat).toBe(ids[1]);
    const e = await explain(gpt2, { ids: [ids] }, { method: 'gi', target: 'cat' });
    expect([e.target, e.targetText]).toEqual([cat, 'cat']);
    await expect(explain(gpt2, { ids: [ids] }, { method: 'gi', target: 'cat sat' })).rejects.toThrow(/target "cat sat" does not encode to exactly one known token/);
    // An id the tokenizer does not know (the fixture's vocabulary is padded past it) has no text.
    expect((await explain(gpt2, { ids: [ids] }, { method: 'gi', target: 95 })).targetText).toBeUndefined();
  });

  it('a word-level vocabulary does not take an unknown word as its [UNK] token', async () => {
    expect(sentiment.tokenizer!.tokenId('zebra')).toBeUndefined();
    expect(sentiment.tokenizer!.tokenId('good')).toBe(3);
    expect(sentiment.tokenizer!.tokenId('[UNK]')).toBe(0);
  });
});

describe('the target text in every renderer', () => {
  const contrasted = (): Explanation => ({ ...sampleExplanation(), target: 1, targetText: 'positive', contrast: 0, contrastText: 'negative', contrastLogit: -0.5 });

  it('ANSI, SVG, HTML and TikZ name target and contrast', () => {
    const e = contrasted();
    expect(renderAnsi(e, { color: false })).toContain('target 1 "positive" vs 0 "negative" · logit difference 1.75');
    expect(renderSvg(e)).toContain('target 1 &quot;positive&quot; vs 0 &quot;negative&quot;');
    expect(renderHtml(e)).toContain('target 1 &quot;positive&quot; vs 0 &quot;negative&quot;');
    expect(renderTikz([e])).toContain('% transformer-lrp: pa-lrp, target 1 "positive" vs 0 "negative", logit difference 1.75');
    const plain = { ...sampleExplanation(), targetText: ' fox\n' };
    expect(renderAnsi(plain, { color: false })).toContain('target 29871 " fox⏎" · logit 1.25');
  });
});

describe('lrp command line: --target/--contrast by name, forward --top-k', () => {
  it('--target LABEL and --contrast LABEL on a classifier; the JSON carries texts and offsets', async () => {
    const { code, stdout, stderr } = await run('explain', '--model', sentimentDir, '--text', 'the movie was good', '--method', 'cp-lrp', '--target', 'negative', '--contrast', 'positive');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const e = JSON.parse(stdout) as Explanation;
    expect(Object.keys(e)).toEqual(['method', 'target', 'targetText', 'contrast', 'contrastText', 'contrastLogit', 'logit', 'tokens', 'conservation', 'layers']);
    expect([e.target, e.targetText, e.contrast, e.contrastText]).toEqual([0, 'negative', 1, 'positive']);
    expect(e.conservation.output).toBeCloseTo(e.logit - e.contrastLogit!, 5);
    expect(e.tokens[4]).toMatchObject({ text: 'good', start: 14, end: 18 });
  });

  it('--target TOKEN on a causal LM, and a string that is not one token exits 2', async () => {
    const ok = await run('explain', '--model', modelDir('gpt2'), '--text', 'the cat sat', '--method', 'gi', '--target', 'mat', '--format', 'ansi');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/target \d+ "mat"/);
    const bad = await run('explain', '--model', modelDir('gpt2'), '--ids', '4,34', '--method', 'gi', '--target', 'cat sat');
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^lrp: explain: target "cat sat" does not encode to exactly one known token/);
    const label = await run('explain', '--model', sentimentDir, '--ids', '1,3', '--method', 'gi', '--contrast', 'neutral');
    expect([label.code, label.stderr]).toEqual([2, expect.stringMatching(/contrast "neutral" is not a class label/)]);
  });

  it('forward --top-k K: the K largest logits with labels / token texts and softmax probabilities; logits unchanged', async () => {
    const { code, stdout } = await run('forward', '--model', modelDir('gpt2'), '--text', 'the cat sat', '--top-k', '3');
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as { logits: number[]; top: { id: number; text: string; logit: number; probability: number }[] };
    expect(Object.keys(out)).toEqual(['logits', 'top']);
    const order = out.logits.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
    expect(out.top.map((p) => p.id)).toEqual(order.slice(0, 3).map(([, i]) => i));
    const z = out.logits.reduce((s, v) => s + Math.exp(v), 0);
    for (const p of out.top) {
      expect(p.logit).toBe(out.logits[p.id]);
      expect(p.probability).toBeCloseTo(Math.exp(p.logit) / z, 6);
      expect(p.text).toBe(gpt2.tokenizer!.tokenText(p.id));
    }
    const classes = JSON.parse((await run('forward', '--model', sentimentDir, '--text', 'good', '--top-k', '5')).stdout) as typeof out;
    expect(classes.top.map((p) => p.text).sort()).toEqual(['negative', 'positive']);
    expect(classes.top[0]!.probability + classes.top[1]!.probability).toBeCloseTo(1, 6);
    for (const argv of [['--top-k', '0'], ['--top-k', 'x']]) {
      expect((await run('forward', '--model', sentimentDir, '--text', 'good', ...argv)).code).toBe(2);
    }
    expect((await run('explain', '--model', sentimentDir, '--text', 'good', '--method', 'gi', '--top-k', '2')).code).toBe(2);
  });
});
