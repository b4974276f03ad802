/**
 * How observations travel on `/get_observation`. A VeRL-Tool trainer appends each observation to
 * the model's text verbatim, so the text must close whatever the action opened: VeRL-Tool's tools
 * wrap their output in an envelope chosen from the action's own syntax. The rules below are
 * written from the contract of its `python_code` tool (its default python tool, with an output
 * tag, `result` unless set) and its `ipython_code` tool; `raw` sends the tool's text unchanged.
 */
export type ObservationFormat = { kind: 'raw' } | { kind: 'python_code'; tag: string } | { kind: 'ipython_code' };

export const OBSERVATION_FORMATS_HELP =
  "raw, python_code (VeRL-Tool's python tool, output tag 'result'), python_code:TAG, ipython_code";

export function parseObservationFormat(spec: string): ObservationFormat {
  if (spec === 'raw') return { kind: 'raw' };
  if (spec === 'ipython_code') return { kind: 'ipython_code' };
  const m = /^python_code(?::([A-Za-z_][\w-]*))?$/.exec(spec);
  if (m) return { kind: 'python_code', tag: m[1] ?? 'result' };
  throw new Error(`unknown observation format '${spec}' (expected one of: ${OBSERVATION_FORMATS_HELP})`);
}

export function formatName(f: ObservationFormat): string {
  return f.kind === 'python_code' ? (f.tag === 'result' ? 'python_code' : `python_code:${f.tag}`) : f.kind;
}

interface Envelope {
  before: string;
  after: string;
  trim: (s: string) => string;
}

/** Python's str.strip(' \n') / lstrip(' \n'): only spaces and line feeds, as VeRL-Tool trims. */
const stripSpaceNl = (s: string) => s.replace(/^[ \n]+|[ \n]+$/g, '');
const lstripSpaceNl = (s: string) => s.replace(/^[ \n]+/, '');

function fenceCount(s: string): number {
  return s.split('```').length - 1;
}

function pythonCodeEnvelope(action: string, tag: string): Envelope {
  const e = (before: string, after: string): Envelope => ({ before, after, trim: stripSpaceNl });
  if (action.includes('```output') || action.includes('```python')) {
    // An even number of fences: every block is closed, so the output gets a block of its own;
    // odd: the action ended inside an opened ```output block, which the observation closes.
    return fenceCount(action) % 2 === 0 ? e(`\n\`\`\`${tag}\n`, '\n```\n') : e('\n', '\n```\n');
  }
  if (action.includes('</tool_call>')) return e(`\n<tool_response>\n\`\`\`${tag}\n`, '\n```\n</tool_response>\n');
  if (
    [`<${tag}>`, `</${tag}>`, '</python>'].some((p) => action.includes(p)) &&
    stripSpaceNl(action).endsWith(`<${tag}>`)
  ) {
    return e('\n', `\n</${tag}>\n`);
  }
  return e(`\n<${tag}>\n`, `\n</${tag}>\n`);
}

function ipythonEnvelope(action: string): Envelope {
  const e = (before: string, after: string): Envelope => ({ before, after, trim: lstripSpaceNl });
  if (action.endsWith('```output')) return e('\n', '\n```\n');
  if (action.endsWith('</tool_call>')) return e('', '');
  if (action.endsWith('<output>')) return e('\n', '\n</output>\n');
  if (action.includes('</python>')) return e('\n<output>\n', '\n</output>\n');
  if (action.includes('<|calling system for feedback|>')) {
    if (action.includes('```python')) return e('\n```output\n', '\n```\n');
    if (action.includes('<python>')) return e('\n<output>\n', '\n</output>\n');
    return e('\n', '\n');
  }
  if (stripSpaceNl(action).endsWith('```') || action.includes('```python')) {
    return fenceCount(action) % 2 === 0 ? e('\n```output\n', '\n```\n') : e('output\n', '\n```\n');
  }
  return e('\n', '\n');
}

function envelopeOf(f: ObservationFormat, action: string): Envelope | undefined {
  if (f.kind === 'python_code') return pythonCodeEnvelope(action, f.tag);
  if (f.kind === 'ipython_code') return ipythonEnvelope(action);
  return undefined;
}

/** The observation of `action` as a server in format `f` sends it. */
export function wrapObservation(f: ObservationFormat, action: string, text: string): string {
  const env = envelopeOf(f, action);
  return env ? env.before + env.trim(text) + env.after : text;
}

/**
 * The tool's own text inside an observation a server in format `f` answered to `action` (what
 * the caller's agent loop wraps in its own template), or the observation unchanged when it is
 * not in that envelope (an empty answer to an invalid action, a server in another format).
 */
export function unwrapObservation(f: ObservationFormat, action: string, observation: string): string {
  const env = envelopeOf(f, action);
  if (!env || (env.before === '' && env.after === '')) return observation;
  const { before, after } = env;
  if (
    observation.length < before.length + after.length ||
    !observation.startsWith(before) ||
    !observation.endsWith(after)
  )
    return observation;
  return observation.slice(before.length, observation.length - after.length);
}
