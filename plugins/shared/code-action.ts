import type { ParsedAction } from '../../core/index.js';

/** A program found in the model's text, with the stdin it gave it (a ```input block). */
export interface CodeAction {
  code: string;
  stdin?: string;
}

/** Leading blank lines, trailing whitespace and the indentation all lines share go; the rest is kept. */
function cleanBlock(block: string): string {
  const lines = block.replace(/\r\n?/g, '\n').trimEnd().split('\n');
  while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^[ \t]*/.exec(l)![0]);
  let common = indents[0] ?? '';
  for (const i of indents) while (!i.startsWith(common)) common = common.slice(0, -1);
  return lines.map((l) => (l.startsWith(common) ? l.slice(common.length) : l.trimStart())).join('\n');
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const fenceRegexes = new Map<string, RegExp>();

/**
 * Closed fenced blocks with one of the info strings; it must end at the word (```pyx, ```python3 are other languages).
 */
function fenceRegex(fences: readonly string[]): RegExp {
  const key = fences.join('\n');
  let re = fenceRegexes.get(key);
  if (!re) {
    re = new RegExp(
      '```(?:' + fences.map(escapeRegex).join('|') + ')(?![\\w.+#-])[ \\t]*(?:\\r?\\n)?([\\s\\S]*?)```',
      'g',
    );
    fenceRegexes.set(key, re);
  }
  return re;
}

/**
 * The program of one model turn, read by VeRL-Tool's python-tool contract: every
 * `<python>...</python>` block (read only when `fences` lists `python`) or, when there is none,
 * every closed fenced block whose info string is in `fences`, run together in order; the first
 * closed ```input block is the program's stdin. Text after the stop string that ended the turn
 * (the last of `stops`, when only whitespace follows it) is not read. An unclosed block (the model
 * ran out of budget inside the code) or empty code is no action.
 */
export function parseCodeAction(
  text: string,
  stops: readonly string[] = ['```output'],
  fences: readonly string[] = ['python', 'py'],
): CodeAction | null {
  let end = text.length;
  for (const s of stops) {
    if (!s) continue;
    const at = text.lastIndexOf(s);
    if (at >= 0 && text.slice(at + s.length).trim() === '') end = Math.min(end, at);
  }
  const body = text.slice(0, end);
  let blocks = fences.includes('python')
    ? [...body.matchAll(/<python>([\s\S]*?)<\/python>/g)].map((m) => m[1] as string)
    : [];
  if (blocks.length === 0 && fences.length > 0)
    blocks = [...body.matchAll(fenceRegex(fences))].map((m) => m[1] as string);
  const code = blocks
    .map(cleanBlock)
    .filter((b) => b !== '')
    .join('\n');
  if (code === '') return null;
  const input = /```input[ \t]*\r?\n([\s\S]*?)\r?\n```/.exec(body)?.[1]?.trim();
  return input ? { code, stdin: input } : { code };
}

/** `parseCodeAction` as a Tool's `parseAction` answers: the code as the action, a ```input block as `extra.stdin`. */
export function parseCodeToolAction(text: string, stops?: readonly string[], fences?: readonly string[]): ParsedAction {
  const p = typeof text === 'string' ? parseCodeAction(text, stops, fences) : null;
  if (p === null) return { valid: false };
  return p.stdin === undefined
    ? { valid: true, action: p.code }
    : { valid: true, action: p.code, extra: { stdin: p.stdin } };
}
