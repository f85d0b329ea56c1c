/**
 * Escaping for HTML and XML text and attribute values. Token text comes from tokenizers and can be
 * anything, `<`, `&`, quotes or lone halves of surrogate pairs included.
 */

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

// Code points XML 1.0 forbids outright (an XML parser rejects the whole SVG on meeting one):
// C0 controls other than tab/newline/return, lone surrogates, U+FFFE and U+FFFF.
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Safe inside element content and inside single- or double-quoted attribute values. */
export function escapeMarkup(text: string): string {
  return text.replace(NOT_XML_CHAR, '\uFFFD').replace(/[&<>"']/g, (ch) => ENTITIES[ch]!);
}
