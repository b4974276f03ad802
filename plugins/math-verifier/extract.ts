import { undoubleBackslashes } from './normalize.js';

/** Limits that keep extraction linear and refuse absurd answers. */
export const MAX_RESPONSE_CHARS = 100_000;
export const MAX_ANSWER_CHARS = 1_000;

interface Span { start: number; end: number; content: string }

/** Every `\boxed{...}` / `\fbox{...}` with braces matched; an unclosed last one runs to the end. */
export function boxedSpans(text: string): Span[] {
  const out: Span[] = [];
  const re = /\\(?:boxed|fbox)\s*\{/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let depth = 1;
    let j = m.index + m[0].length;
    for (; j < text.length && depth > 0; j++) {
      if (text[j] === '{' && text[j - 1] !== '\\') depth++;
      else if (text[j] === '}' && text[j - 1] !== '\\') depth--;
    }
    const closed = depth === 0;
    out.push({ start: m.index, end: j, content: text.slice(m.index + m[0].length, closed ? j - 1 : j) });
    re.lastIndex = closed ? j : text.length;
  }
  return out;
}

/**
 * Boxes written next to each other (`\boxed{1} and \boxed{2}`, `\boxed{1}, \boxed{2}`) form one answer.
 * The gap may hold a connector (and / or / , / ;) with a few words, or no words at all.
 */
function joinableGap(gap: string): boolean {
  const g = gap.replace(/\\text\{([^}]*)\}/g, ' $1 ').replace(/\\[a-zA-Z]+|[$\\()[\]{}]/g, ' ');
  if (g.length > 60) return false;
  if (!/[a-zA-Z]/.test(g)) return true;
  return /(^|[^a-zA-Z])(and|or)([^a-zA-Z]|$)|[,;]/.test(g);
}

const MATH_ENV = /\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(((?:(?!\\\))[^\n])+?)\\\)|\$((?:\\\$|[^\n$])+?)\$/g;
const NUMBER = /(?<![A-Za-z\d.\\])-?(?:\d{1,3}(?:(?:,|\s)\d{3})+(?![\d])|\d+)(?:[.,]\d+)?(?:\s*\/\s*\d+(?:\.\d+)?)?|(?<![\d.])\.\d+/g;
const PHRASE = /(?:final answer(?: is)?|the answer is|answer is|answer)\s*[:：]?/gi;
const IGNORED_WORDS = new Set(['and', 'or', 'percent', 'percentage', 'pct']);

/** True when the whole text reads as a bare answer (`x+1`, `28 percent`, `Even`) rather than prose. */
function isBare(text: string): boolean {
  if (text.length > 200 || /:\s/.test(text) || /\n/.test(text.trim())) return false;
  const words = text.replace(/\\[a-zA-Z]+(\{[^}]*\})?/g, ' ').split(/[^a-zA-Z]+/).filter((w) => w.length >= 2 && !IGNORED_WORDS.has(w.toLowerCase()));
  return words.length <= 1;
}

/** Last math environment or number (whichever ends last); null when markup is present but broken. */
function lastMathOrNumber(text: string): string | null {
  let env: { end: number; content: string } | null = null;
  for (const m of text.matchAll(MATH_ENV)) {
    const content = (m[1] ?? m[2] ?? m[3] ?? m[4] ?? '').trim();
    if (content) env = { end: m.index! + m[0].length, content };
  }
  let num: { end: number; content: string } | null = null;
  for (const m of text.matchAll(NUMBER)) num = { end: m.index! + m[0].length, content: m[0] };
  if (!env) {
    // `$ \n 9 \n $`: delimiters that never form an inline formula mean an unreadable answer
    const dollars = (text.match(/(?<!\\)\$/g) ?? []).length + (text.match(/\\\(/g) ?? []).length * 2;
    if (dollars >= 2) return null;
  }
  if (env && (!num || env.end >= num.end - 1)) return env.content;
  return num ? num.content : null;
}

function fromPhrase(text: string): string | null {
  let last: RegExpExecArray | null = null;
  for (let m = PHRASE.exec(text); m; m = PHRASE.exec(text)) last = m;
  PHRASE.lastIndex = 0;
  if (!last) return null;
  let rest = text.slice(last.index + last[0].length).replace(/^[\s"'“]+/, '');
  const env = /^(?:\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([^\n]+?)\\\)|\$((?:\\\$|[^\n$])+?)\$)/.exec(rest);
  if (env) return (env[1] ?? env[2] ?? env[3] ?? env[4] ?? '').trim();
  if (/^(\$|\\\(|\\\[)/.test(rest)) return null;
  const sentence = /^([\s\S]*?)(?:\.(?:\s|$)|\n|I hope|$)/.exec(rest);
  rest = sentence ? sentence[1]! : rest;
  const is = rest.lastIndexOf(' is ');
  if (is >= 0) rest = rest.slice(is + 4);
  if (!rest.trim()) return null;
  if (isBare(rest) && !/\$/.test(rest)) return rest.trim();
  return lastMathOrNumber(rest);
}

/**
 * The final answer of a response: the last `\boxed{}` (with adjacent boxes joined), else an answer
 * phrase ("final answer is", "Answer:"), else the whole text when it is a bare answer, else the last
 * math expression or number.
 */
export function extractAnswer(response: string): string | null {
  let text = response.length > MAX_RESPONSE_CHARS ? response.slice(-MAX_RESPONSE_CHARS) : response;
  text = undoubleBackslashes(text.replace(/<\|im_(?:start|end)\|>\s*\w*\s*$/, ''));
  const boxes = boxedSpans(text);
  let answer: string | null;
  if (boxes.length) {
    let i = boxes.length - 1;
    const parts = [boxes[i]!.content];
    while (i > 0 && joinableGap(text.slice(boxes[i - 1]!.end, boxes[i]!.start))) {
      i--;
      parts.unshift(boxes[i]!.content);
    }
    answer = parts.join(', ');
  } else {
    answer = fromPhrase(text);
    if (answer === null) {
      const t = text.trim();
      answer = isBare(t) && !/(?<!\\)\$|\\\(|\\\[/.test(t) ? t : lastMathOrNumber(text);
    }
  }
  if (answer === null) return null;
  answer = answer.trim();
  if (!answer || answer.length > MAX_ANSWER_CHARS) return null;
  return answer;
}
