import { boxedSpans } from '../shared/boxed.js';
import { undoubleBackslashes } from './normalize.js';

/** Limits that keep extraction linear and refuse absurd answers. */
export const MAX_RESPONSE_CHARS = 100_000;
export const MAX_ANSWER_CHARS = 1_000;

/**
 * Boxes written next to each other (`\boxed{1} and \boxed{2}`, `\boxed{1}, \boxed{2}`) form one answer.
 * The gap may hold a connector (and / or / , / ;) with a few words, or no words at all.
 */
function joinableGap(gap: string): boolean {
  const g = gap.replace(/\\text\{([^}]*)\}/g, ' $1 ').replace(/\\[a-zA-Z]+|[$\\()[\]{}]/g, ' ');
  if (g.length > 60) return false;
  const words = g.match(/[a-zA-Z]+/g) ?? [];
  if (!words.length) return true;
  // `\boxed{1} papers and \boxed{2} bins` joins; `\boxed{1}., but let me check ... \boxed{1}` does not
  return words.length <= 4 && words.some((w) => w === 'and' || w === 'or');
}

const NUMBER =
  /(?<![A-Za-z\d.\\])-?(?:\d{1,3}(?:(?:,|\s)\d{3})+(?![\d])|\d+)(?:[.,]\d+)?(?:[eE][+-]?\d{1,4}(?![\d.]))?(?:\s*\/\s*\d+(?:\.\d+)?)?|(?<![\d.])\.\d+/g;
// a bare "answer" counts only before a colon or a formula ("Answer: 9", "Answer $9$"), not in prose
const PHRASE = /(?:final answer(?: is)?|answer is)\s*[:：]?|answer\s*[:：]|answer(?=\s*(?:\$|\\\(|\\\[))/gi;
const IGNORED_WORDS = new Set(['and', 'or', 'percent', 'percentage', 'pct']);

/** True when the whole text reads as a bare answer (`x+1`, `28 percent`, `Even`) rather than prose. */
function isBare(text: string): boolean {
  if (text.length > 200 || /:\s/.test(text) || /\n/.test(text.trim())) return false;
  const words = text
    .replace(/\\[a-zA-Z]+(\{[^}]*\})?/g, ' ')
    .split(/[^a-zA-Z]+/)
    .filter((w) => w.length >= 2 && !IGNORED_WORDS.has(w.toLowerCase()));
  return words.length <= 1;
}

interface Env {
  start: number;
  end: number;
  content: string;
}

/**
 * Every `$$..$$`, `\[..\]`, `\(..\)` (one line) and `$..$` (one line) in order. A scanner rather than
 * one regex: lazy regexes rescan to the end of the text from every unclosed opener (quadratic).
 */
export function mathEnvs(text: string): Env[] {
  const out: Env[] = [];
  const next = new Map<string, number>();
  // first occurrence of `tok` at or after `from`, cached: the search never restarts behind a hit
  const find = (tok: string, from: number): number => {
    const c = next.get(tok);
    if (c !== undefined && (c === -1 || c >= from)) return c;
    const j = text.indexOf(tok, from);
    next.set(tok, j);
    return j;
  };
  const push = (start: number, end: number, inner: string) => {
    const content = inner.trim();
    if (content) out.push({ start, end, content });
  };
  for (let i = 0; i < text.length;) {
    const c = text[i];
    if (c === '\\' && (text[i + 1] === '(' || text[i + 1] === '[')) {
      const close = text[i + 1] === '(' ? '\\)' : '\\]';
      const j = find(close, i + 2);
      const nl = find('\n', i);
      if (j >= 0 && (close === '\\]' || nl < 0 || j < nl)) {
        push(i, j + 2, text.slice(i + 2, j));
        i = j + 2;
        continue;
      }
      i += 2;
      continue;
    }
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '$') {
      if (text[i + 1] === '$') {
        const j = find('$$', i + 2);
        if (j >= 0) {
          push(i, j + 2, text.slice(i + 2, j));
          i = j + 2;
          continue;
        }
        i += 2;
        continue;
      }
      let j = i + 1;
      while (j < text.length && text[j] !== '\n' && text[j] !== '$') j += text[j] === '\\' ? 2 : 1;
      if (text[j] === '$') {
        push(i, j + 1, text.slice(i + 1, j));
        i = j + 1;
        continue;
      }
      i = Math.max(j, i + 1);
      continue;
    }
    i++;
  }
  return out;
}

/** Last math environment or number (whichever ends last); null when markup is present but broken. */
function lastMathOrNumber(text: string): string | null {
  const envs = mathEnvs(text);
  const env = envs.length ? { ...envs[envs.length - 1]! } : null;
  // `$1$ and $2$ and $3$`: formulas joined only by connectors are one answer
  for (
    let i = envs.length - 1;
    env && i > 0 && /^\s*(?:,|;|and|or|,\s*and|,\s*or)\s*$/.test(text.slice(envs[i - 1]!.end, envs[i]!.start));
    i--
  ) {
    env.content = `${envs[i - 1]!.content}, ${env.content}`;
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

function lastPhrase(text: string): { index: number; length: number; text: string } | null {
  let last: RegExpExecArray | null = null;
  for (let m = PHRASE.exec(text); m; m = PHRASE.exec(text)) last = m;
  PHRASE.lastIndex = 0;
  return last && { index: last.index, length: last[0].length, text: last[0] };
}

function fromPhrase(text: string): string | null {
  const last = lastPhrase(text);
  if (!last) return null;
  let rest = text.slice(last.index + last.length).replace(/^[\s"'“]+/, '');
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
 * math expression or number. A last box left unclosed (a response cut off mid-answer) is no answer,
 * as mathruler's extract_boxed_content (Agent0's reader) has it: not its content, not a number before it.
 * `unclosedBox: 'content'` reads such a box to the end instead (for gold answers, which are trusted).
 */
export function extractAnswer(response: string, opts: { unclosedBox?: 'none' | 'content' } = {}): string | null {
  let text = response.length > MAX_RESPONSE_CHARS ? response.slice(-MAX_RESPONSE_CHARS) : response;
  text = undoubleBackslashes(text.replace(/<\|im_(?:start|end)\|>\s*\w*\s*$/, ''));
  const boxes = boxedSpans(text);
  if (boxes.length && !boxes[boxes.length - 1]!.closed && opts.unclosedBox !== 'content') return null;
  let answer: string | null = null;
  // a "final answer is ..." written after the last box overrides the boxes (a box of an intermediate step)
  const phrase = boxes.length ? lastPhrase(text) : null;
  if (phrase && phrase.index > boxes[boxes.length - 1]!.end && /final answer/i.test(phrase.text)) {
    answer = fromPhrase(text);
  }
  if (answer !== null) {
    /* taken from the phrase */
  } else if (boxes.length) {
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
