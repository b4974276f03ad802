import type { ExecResult } from './worker.js';

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
    .filter((s) => s.length > 0)
    .join('\n');
  const room = Math.max(0, caps.maxChars - extra.length - 1);
  return [out ? head(out, room) : '', extra].filter((s) => s.length > 0).join('\n');
}
