/**
 * `\boxed{...}` answers, with braces matched. Readers of model output differ in small ways that
 * change which text counts as the answer (whether `\fbox` counts, whether `\boxed {x}` or `\{` do),
 * so each reader states its choices through `BoxOptions` instead of keeping its own scanner.
 */

/** One box: from its backslash to past its closing brace (or the text's end when unclosed). */
export interface BoxSpan {
  start: number;
  end: number;
  content: string;
  closed: boolean;
}

export interface BoxOptions {
  /** Command names read as boxes. Default `boxed` and `fbox`. */
  commands?: readonly string[];
  /** Whether white space may stand between the command and its brace (`\boxed {1}`). Default true. */
  spaceBeforeBrace?: boolean;
  /** Whether a brace right after a backslash (`\{`, `\}`) is text rather than nesting. Default true. */
  escapedBraces?: boolean;
}

const DEFAULT_COMMANDS = ['boxed', 'fbox'] as const;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function openers(o: BoxOptions): RegExp {
  const names = (o.commands ?? DEFAULT_COMMANDS).map(escapeRegex).join('|');
  return new RegExp(`\\\\(?:${names})${o.spaceBeforeBrace === false ? '' : '\\s*'}\\{`, 'g');
}

/** The index just past the brace that closes one opened right before `from`, or -1. */
function closingEnd(text: string, from: number, escapedBraces: boolean): number {
  let depth = 1;
  for (let j = from; j < text.length; j++) {
    if (escapedBraces && text[j - 1] === '\\') continue;
    if (text[j] === '{') depth++;
    else if (text[j] === '}' && --depth === 0) return j + 1;
  }
  return -1;
}

/**
 * Every box, left to right; a box inside another is part of its content, not a box of its own. An
 * unclosed box runs to the end of the text (closed: false) and is the last.
 */
export function boxedSpans(text: string, o: BoxOptions = {}): BoxSpan[] {
  const out: BoxSpan[] = [];
  const re = openers(o);
  const escapes = o.escapedBraces !== false;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const from = m.index + m[0].length;
    const end = closingEnd(text, from, escapes);
    const closed = end >= 0;
    out.push({
      start: m.index,
      end: closed ? end : text.length,
      content: text.slice(from, closed ? end - 1 : text.length),
      closed,
    });
    re.lastIndex = closed ? end : text.length;
  }
  return out;
}

/**
 * The content of the box opened last in the text (which may sit inside an earlier one), or
 * undefined when there is none or its braces never close.
 */
export function lastBoxed(text: string, o: BoxOptions = {}): string | undefined {
  const re = openers(o);
  let last: RegExpExecArray | undefined;
  // Openers cannot overlap (each holds one backslash, at its start): the last match is the last opener.
  for (let m = re.exec(text); m; m = re.exec(text)) last = m;
  if (!last) return undefined;
  const from = last.index + last[0].length;
  const end = closingEnd(text, from, o.escapedBraces !== false);
  return end < 0 ? undefined : text.slice(from, end - 1);
}
