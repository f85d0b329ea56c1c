/** A small well-formedness check for the SVG figures (no XML parser is a dependency). */

/**
 * Just enough of an XML checker for the SVG: balanced, properly nested tags, quoted attributes,
 * only the predefined or numeric entities, one root element. Returns a problem or null.
 */
export function xmlProblem(xml: string): string | null {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let roots = 0;
  const markup = /<!--[\s\S]*?-->|<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  for (const m of body.matchAll(markup)) {
    const [whole, closing, name, attrs, selfClosing, text, strayLt] = m;
    if (strayLt !== undefined) return `unparseable markup at ${m.index}: ${body.slice(m.index, m.index + 40)}`;
    if (whole.startsWith('<!--')) continue;
    const chars = text ?? attrs ?? '';
    const badEntity = chars.match(/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/);
    if (badEntity) return `bad entity near ${m.index}`;
    if (text !== undefined) {
      if (stack.length === 0 && text.trim() !== '') return 'text outside the root element';
      continue;
    }
    if (closing) {
      if (stack.pop() !== name) return `mismatched </${name}>`;
    } else {
      if (stack.length === 0) roots += 1;
      if (!selfClosing) stack.push(name!);
    }
  }
  if (stack.length > 0) return `unclosed <${stack.join('>, <')}>`;
  return roots === 1 ? null : `${roots} root elements`;
}
