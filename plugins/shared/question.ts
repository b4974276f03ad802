/**
 * The curriculum's proposal format, `<question>Q</question>` followed by the rest (where the
 * curriculum writes its own answer): the first tagged question, trimmed, and the text after its
 * closing tag; null when there is none or it is blank.
 */
export function questionSpan(text: string): { question: string; rest: string } | null {
  const m = /<question>([\s\S]*?)<\/question>/.exec(text);
  const question = m?.[1]?.trim() ?? '';
  if (!m || question.length === 0) return null;
  return { question, rest: text.slice(m.index + m[0].length) };
}
