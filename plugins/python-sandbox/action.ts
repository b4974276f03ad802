import type { ExecResult } from './worker.js';

/** A program found in the model's text, with the stdin it gave it (a ```input block). */
export interface PythonAction {
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

/**
 * The program of one model turn, read by VeRL-Tool's python-tool contract: every
 * `<python>...</python>` block or, when there is none, every closed ```python (or ```py) block,
 * run together in order; the first closed ```input block is the program's stdin. Text after the
 * stop string that ended the turn (the last of `stops`, when only whitespace follows it) is not
 * read. An unclosed block (the model ran out of budget inside the code) or empty code is no action.
 */
export function parsePythonAction(text: string, stops: readonly string[] = ['```output']): PythonAction | null {
  let end = text.length;
  for (const s of stops) {
    if (!s) continue;
    const at = text.lastIndexOf(s);
    if (at >= 0 && text.slice(at + s.length).trim() === '') end = Math.min(end, at);
  }
  const body = text.slice(0, end);
  let blocks = [...body.matchAll(/<python>([\s\S]*?)<\/python>/g)].map((m) => m[1] as string);
  // The info string must end at the word: ```pyx or ```python3 is another language.
  if (blocks.length === 0) blocks = [...body.matchAll(/```(?:python|py)(?![\w.+#-])[ \t]*(?:\r?\n)?([\s\S]*?)```/g)].map((m) => m[1] as string);
  const code = blocks.map(cleanBlock).filter((b) => b !== '').join('\n');
  if (code === '') return null;
  const input = /```input[ \t]*\r?\n([\s\S]*?)\r?\n```/.exec(body)?.[1]?.trim();
  return input ? { code, stdin: input } : { code };
}

export interface ObservationCaps {
  /** Cap on the whole observation (characters). */
  maxChars: number;
  /** How much of stderr's end (the traceback's last lines) to show when the program failed. */
  errorTailChars: number;
}

/** At most `max` characters of the start of `s`, the cut noted within that budget. */
function head(s: string, max: number): string {
  if (s.length <= max) return s;
  const note = (kept: number) => `\n... (${s.length - kept} more characters)`;
  const keep = Math.max(0, max - note(0).length);
  return keep > 0 ? s.slice(0, keep) + note(keep) : s.slice(0, Math.max(0, max));
}

/** At most `max` characters of the end of `s`, the cut noted within that budget. */
function tail(s: string, max: number): string {
  if (s.length <= max) return s;
  const note = (kept: number) => `(${s.length - kept} characters before) ...\n`;
  const keep = Math.max(0, max - note(0).length);
  return keep > 0 ? note(keep) + s.slice(s.length - keep) : s.slice(s.length - Math.max(0, max));
}

/** One line saying why a run was stopped, as the model will read it. */
function stopNote(r: ExecResult, timeoutSeconds: number): string {
  if (r.status === 'timeout') return `TimeoutError: the program ran longer than ${timeoutSeconds} s and was killed`;
  if (r.status === 'killed') return `Killed: ${r.reason ?? 'the program was stopped'}`;
  return '';
}

/**
 * The observation of one run: stdout when it succeeded; otherwise whatever it printed, then the
 * tail of stderr and why it was stopped. Trailing whitespace is dropped (the loop's format adds the
 * newline). stdout gives way first: the error's last lines are what the model needs.
 */
export function observationOf(r: ExecResult, caps: ObservationCaps, timeoutSeconds: number): string {
  const out = r.stdout.replace(/\s+$/, '');
  if (r.status === 'sandbox_error') return `sandbox error: ${(r.reason ?? 'the sandbox failed').slice(0, 300)}`;
  if (r.status === 'ok') return head(out, caps.maxChars);
  const err = r.stderr.replace(/\s+$/, '');
  const extra = [err ? tail(err, Math.min(caps.errorTailChars, caps.maxChars)) : '', stopNote(r, timeoutSeconds)]
    .filter((s) => s.length > 0).join('\n');
  const room = Math.max(0, caps.maxChars - extra.length - 1);
  return [out ? head(out, room) : '', extra].filter((s) => s.length > 0).join('\n');
}
