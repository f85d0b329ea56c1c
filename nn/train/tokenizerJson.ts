/**
 * A word-level tokenizer.json (Hugging Face `tokenizers` format: WordLevel model, whitespace
 * split, [CLS] prepended by a template for classifiers), so `--text` works on the demo models.
 */
import type { Task } from './tasks/types.js';

/** tokenizer.json for a task's word-level vocabulary (whitespace split; [CLS] prepended for classifiers). */
export function tokenizerJson(task: Task): Record<string, unknown> {
  const vocab = Object.fromEntries(task.vocab.map((w, i) => [w, i]));
  const special = task.vocab.filter((w) => /^\[[A-Z]+\]$/.test(w));
  const cls = task.vocab.indexOf('[CLS]');
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special.map((w) => ({ id: vocab[w], content: w, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: task.prependCls
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
          special_tokens: { '[CLS]': { id: '[CLS]', ids: [cls], tokens: ['[CLS]'] } },
        }
      : null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '[UNK]' },
  };
}

/** tokenizer_config.json: tokenizers.js reads the unknown token from here for WordLevel models. */
export function tokenizerConfigJson(): Record<string, unknown> {
  return { unk_token: '[UNK]', tokenizer_class: 'PreTrainedTokenizerFast' };
}
