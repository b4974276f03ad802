/**
 * SandboxFusion observations: the program's stdout, or, when it failed, what it printed plus the
 * tail of its stderr. (Actions are read by plugins/shared/code-action.ts, as tool/python reads them.)
 */

/** Keeps the first `max` characters and says how many were cut. */
export function capHead(s: string, max: number): string {
  if (s.length <= max) return s;
  return `${s.slice(0, max)}\n...[${s.length - max} more characters truncated]`;
}

/** Keeps the last `max` characters (where a traceback's useful line is) and says how many were cut. */
export function capTail(s: string, max: number): string {
  if (s.length <= max) return s;
  return `[${s.length - max} earlier characters truncated]...\n${s.slice(s.length - max)}`;
}

export interface ObservationLimits {
  /** Cap on the whole observation, in characters. */
  maxChars: number;
  /** How much of stderr's end to show when the program failed. */
  errorTailChars: number;
}

/**
 * The observation of one program run (at most `maxChars` plus short truncation markers). `failed`: non-zero exit,
 * killed or timed out; its stderr tail
 * (and `note`, e.g. the timeout) follow whatever stdout it printed. stdout gives way first, since the
 * error's last lines are what the model needs to fix its code.
 */
export function observationOf(
  stdout: string,
  stderr: string,
  failed: boolean,
  limits: ObservationLimits,
  note?: string,
): string {
  // trailing whitespace goes: the agent loop's observation format adds the line break
  if (!failed) return capHead(stdout.replace(/\s+$/, ''), limits.maxChars);
  const parts: string[] = [];
  const tail =
    stderr.trim().length > 0
      ? capTail(stderr.replace(/\s+$/, ''), Math.min(limits.errorTailChars, limits.maxChars))
      : '';
  const extra = [tail, note ?? ''].filter((s) => s.length > 0).join('\n');
  const room = Math.max(0, limits.maxChars - extra.length - 1);
  if (stdout.length > 0 && room > 0) parts.push(capHead(stdout.replace(/\s+$/, ''), room));
  if (extra.length > 0) parts.push(extra);
  return parts.join('\n');
}
