/**
 * SandboxFusion's `POST /run_code` wire format (bytedance/SandboxFusion, sandbox/server/sandbox_api.py
 * and sandbox/runners/types.py). Field names are the server's, snake_case included.
 */

export interface RunCodeRequest {
  code: string;
  language: string;
  /** Seconds. */
  compile_timeout: number;
  /** Seconds. */
  run_timeout: number;
  /** -1: no limit. */
  memory_limit_MB: number;
  stdin?: string;
  /** Written into the program's folder before it runs: relative path → base64 contents. */
  files?: Record<string, string>;
  /** Paths (relative to the program's folder) whose contents come back in the answer's `files`. */
  fetch_files?: string[];
}

/** One command's outcome: `Error` is a sandbox-side failure, not the program's. */
export type CommandRunStatus = 'Finished' | 'Error' | 'TimeLimitExceeded';

export interface CommandRunResult {
  status: CommandRunStatus;
  execution_time: number | null;
  return_code: number | null;
  stdout: string;
  stderr: string;
}

/** Success: every command exited 0. Failed: non-zero exit or time limit. SandboxError: the sandbox broke. */
export type RunStatus = 'Success' | 'Failed' | 'SandboxError';

export interface RunCodeResponse {
  status: RunStatus;
  message: string;
  compile_result: CommandRunResult | null;
  run_result: CommandRunResult | null;
  /** The `fetch_files` that existed after the run: path → base64 contents (missing ones are left out). */
  files: Record<string, string>;
}

/**
 * The answer is not what SandboxFusion sends (malformed JSON, missing fields). Retryable: a proxy may have mangled it.
 */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const RUN_STATUSES = new Set(['Success', 'Failed', 'SandboxError']);
const COMMAND_STATUSES = new Set(['Finished', 'Error', 'TimeLimitExceeded']);

function commandResult(v: unknown, where: string): CommandRunResult | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || Array.isArray(v))
    throw new ProtocolError(`${where}: expected an object or null, found ${JSON.stringify(v).slice(0, 60)}`);
  const o = v as Record<string, unknown>;
  if (typeof o.status !== 'string' || !COMMAND_STATUSES.has(o.status)) {
    throw new ProtocolError(
      `${where}.status: expected Finished, Error or TimeLimitExceeded, found ${JSON.stringify(o.status)}`,
    );
  }
  const num = (k: string): number | null => {
    const x = o[k];
    if (x === null || x === undefined) return null;
    if (typeof x !== 'number')
      throw new ProtocolError(`${where}.${k}: expected a number or null, found ${JSON.stringify(x).slice(0, 60)}`);
    return x;
  };
  const str = (k: string): string => {
    const x = o[k];
    if (x === null || x === undefined) return '';
    if (typeof x !== 'string')
      throw new ProtocolError(`${where}.${k}: expected a string or null, found ${JSON.stringify(x).slice(0, 60)}`);
    return x;
  };
  return {
    status: o.status as CommandRunStatus,
    execution_time: num('execution_time'),
    return_code: num('return_code'),
    stdout: str('stdout'),
    stderr: str('stderr'),
  };
}

/** Checks and normalises a `/run_code` answer (null stdout/stderr become ''). */
export function parseRunCodeResponse(body: unknown): RunCodeResponse {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ProtocolError(`expected a JSON object, found ${JSON.stringify(body)?.slice(0, 60)}`);
  }
  const o = body as Record<string, unknown>;
  if (typeof o.status !== 'string' || !RUN_STATUSES.has(o.status)) {
    throw new ProtocolError(`status: expected Success, Failed or SandboxError, found ${JSON.stringify(o.status)}`);
  }
  return {
    status: o.status as RunStatus,
    message: typeof o.message === 'string' ? o.message : '',
    compile_result: commandResult(o.compile_result, 'compile_result'),
    run_result: commandResult(o.run_result, 'run_result'),
    files: fetchedFiles(o.files),
  };
}

function fetchedFiles(v: unknown): Record<string, string> {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw new ProtocolError(`files: expected an object of base64 strings, found ${JSON.stringify(v).slice(0, 60)}`);
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string')
      throw new ProtocolError(`files.${k}: expected a base64 string, found ${JSON.stringify(x).slice(0, 60)}`);
  }
  return v as Record<string, string>;
}

/** True for standard base64 (what SandboxFusion's `base64.b64decode` accepts without complaint). */
export function isBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}
