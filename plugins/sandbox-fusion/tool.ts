import { constants } from 'node:os';
import type { Logger, ParsedAction, Tool, ToolResult } from '../../core/index.js';
import { parseCodeToolAction } from '../shared/code-action.js';
import { observationOf } from './action.js';
import { CancelledError, SandboxFusionClient, SandboxUnavailableError } from './client.js';
import type { SandboxFusionOptions } from './options.js';
import { isBase64, type RunCodeRequest, type RunCodeResponse } from './protocol.js';

/**
 * The tool's options: the component's, with `files` as base64 contents (index.ts reads the recipe's
 * file specs); stop, files and fetchFiles may be left out when the tool is built directly.
 */
export type SandboxFusionToolOptions = Omit<SandboxFusionOptions, 'stop' | 'files' | 'fetchFiles'> &
  Partial<Pick<SandboxFusionOptions, 'stop' | 'fetchFiles'>> & { files?: Record<string, string> };

/** One program's raw outcome, in the shape `agent0 sandbox exec` prints. */
export interface ExecOutcome {
  /** `killed`: a signal ended the program (SandboxFusion's negative return code, or bash's 128 + N). */
  status: 'ok' | 'error' | 'timeout' | 'killed' | 'sandbox_error';
  stdout: string;
  stderr: string;
  exitCode: number | null;
  wallMs: number;
  /** Why the sandbox failed, or which stage failed ('compile'). */
  reason?: string;
  /** Fetched files that existed after the run: path → base64 contents, as SandboxFusion sends them. */
  files?: Record<string, string>;
}

/** The signal that ended a program, from its return code: -N (Python's subprocess) or 128 + N (a shell's). */
export function signalOf(exitCode: number | null, allowShellCode: boolean): number | null {
  if (exitCode === null) return null;
  if (exitCode < 0) return -exitCode;
  if (allowShellCode && exitCode > 128 && exitCode <= 128 + 64) return exitCode - 128;
  return null;
}

function signalName(sig: number): string {
  return Object.entries(constants.signals).find(([, n]) => n === sig)?.[0] ?? `signal ${sig}`;
}

/**
 * One line telling the model that the run failed when the streams alone would not: a signal, or a
 * non-zero exit with nothing on stderr (`sys.exit(3)`, `os._exit(1)`), as `tool/python` does.
 */
export function failureNote(r: Pick<ExecOutcome, 'status' | 'exitCode' | 'stderr'>): string | undefined {
  if (r.status === 'killed') {
    const sig = signalOf(r.exitCode, true) ?? 0;
    const name = signalName(sig);
    const why =
      name === 'SIGKILL'
        ? ', usually for exceeding the memory limit'
        : name === 'SIGSEGV'
          ? ' (segmentation fault)'
          : '';
    return `Killed: the program was killed by ${name}${why} (exit code ${r.exitCode})`;
  }
  if (r.status === 'error' && r.stderr.trim() === '') {
    return r.exitCode === null
      ? 'Error: the program failed without an exit code or error message'
      : `Error: the program exited with code ${r.exitCode} and printed no error message`;
  }
  return undefined;
}

/**
 * Runs the model's code blocks on SandboxFusion servers. Stateless: each call is a fresh
 * program (SandboxFusion keeps nothing between calls), so `finish` has nothing to free.
 */
export class SandboxFusionTool implements Tool {
  readonly name: string;
  readonly client: SandboxFusionClient;

  constructor(
    private readonly o: SandboxFusionToolOptions,
    private readonly log?: Logger,
    private readonly runSignal?: AbortSignal,
    rand?: () => number,
  ) {
    this.name = o.name;
    this.client = new SandboxFusionClient({ ...o, rand });
  }

  /** Every code block of the turn, run together as one program (as tool/python does); a ```input block is its stdin. */
  parseAction(text: string): ParsedAction {
    return parseCodeToolAction(text, this.o.stop, this.o.fences);
  }

  async conductAction(_trajectoryId: string, action: string, extra?: Record<string, unknown>): Promise<ToolResult> {
    const r = await this.exec(action, extra);
    const info: Record<string, string | number | boolean> = { status: r.status, wallMs: r.wallMs };
    if (r.exitCode !== null) info.exitCode = r.exitCode;
    if (r.status === 'sandbox_error') {
      return {
        observation: `sandbox error: ${(r.reason ?? 'the sandbox failed to run the program').slice(0, 500)}`,
        done: false,
        valid: false,
        info,
      };
    }
    if (r.reason) info.stage = r.reason;
    if (r.files) info.fetchedFiles = Object.keys(r.files).join(', ');
    const limits = { maxChars: this.o.maxObservationChars, errorTailChars: this.o.errorTailChars };
    const note =
      r.status !== 'timeout'
        ? failureNote(r)
        : r.reason === 'compile'
          ? `CompileTimeout: compilation ran longer than ${this.o.compileTimeoutSeconds} s and was stopped`
          : `TimeoutError: the program ran longer than ${this.o.runTimeoutSeconds} s and was stopped`;
    // A program that raised or timed out is still a valid action: the model's fault, to learn from.
    return {
      observation: observationOf(r.stdout, r.stderr, r.status !== 'ok', limits, note),
      done: false,
      valid: true,
      info,
    };
  }

  /**
   * Runs one program and reports its raw outcome; never throws. `extra.stdin`, `extra.signal`,
   * `extra.files` (path → base64 or bytes) and `extra.fetch_files` apply.
   */
  async exec(code: string, extra?: Record<string, unknown>): Promise<ExecOutcome> {
    const t0 = performance.now();
    const wall = () => Math.round(performance.now() - t0);
    const stdin = typeof extra?.stdin === 'string' ? extra.stdin : this.o.stdin;
    let io: { files: Record<string, string>; fetch: string[] };
    try {
      io = this.callFiles(extra);
    } catch (e) {
      // the caller's mistake, the same on every server: nothing is sent
      return {
        status: 'sandbox_error',
        stdout: '',
        stderr: '',
        exitCode: null,
        wallMs: wall(),
        reason: (e as Error).message,
      };
    }
    const req: RunCodeRequest = {
      code,
      language: this.o.language,
      compile_timeout: this.o.compileTimeoutSeconds,
      run_timeout: this.o.runTimeoutSeconds,
      memory_limit_MB: this.o.memoryLimitMB,
      ...(stdin.length > 0 ? { stdin } : {}),
      ...(Object.keys(io.files).length > 0 ? { files: io.files } : {}),
      ...(io.fetch.length > 0 ? { fetch_files: io.fetch } : {}),
    };
    const signals = [extra?.signal, this.runSignal].filter((s): s is AbortSignal => s instanceof AbortSignal);
    try {
      const res = await this.client.run(req, signals.length > 0 ? AbortSignal.any(signals) : undefined);
      return outcomeOf(res, wall());
    } catch (e) {
      const reason =
        e instanceof CancelledError
          ? 'the call was cancelled'
          : e instanceof SandboxUnavailableError
            ? e.message
            : `unexpected client failure: ${(e as Error).message}`;
      if (!(e instanceof CancelledError)) this.log?.warn(`sandbox-fusion: ${reason}`);
      return { status: 'sandbox_error', stdout: '', stderr: '', exitCode: null, wallMs: wall(), reason };
    }
  }

  /** The tool's files and fetch list with the call's own (`extra.files`, `extra.fetch_files`) over them. */
  private callFiles(extra?: Record<string, unknown>): { files: Record<string, string>; fetch: string[] } {
    const files = { ...this.o.files };
    const given = extra?.files;
    if (given !== undefined && given !== null) {
      if (typeof given !== 'object' || Array.isArray(given))
        throw new Error('extra.files: expected an object of path → base64 contents');
      for (const [name, v] of Object.entries(given as Record<string, unknown>)) {
        if (v instanceof Uint8Array) files[name] = Buffer.from(v).toString('base64');
        else if (typeof v === 'string' && isBase64(v)) files[name] = v;
        else throw new Error(`extra.files[${JSON.stringify(name)}]: expected base64 text or bytes`);
      }
    }
    const fetch = [...(this.o.fetchFiles ?? [])];
    const more = extra?.fetch_files ?? extra?.fetchFiles;
    if (more !== undefined && more !== null) {
      if (!Array.isArray(more) || !more.every((x) => typeof x === 'string' && x.length > 0))
        throw new Error('extra.fetch_files: expected a list of paths');
      for (const f of more as string[]) if (!fetch.includes(f)) fetch.push(f);
    }
    return { files, fetch };
  }

  async finish(_trajectoryId: string): Promise<void> {}

  async dispose(): Promise<void> {
    await this.client.close();
  }
}

/** Maps SandboxFusion's answer (see protocol.ts) to an outcome. */
function outcomeOf(res: RunCodeResponse, wallMs: number): ExecOutcome {
  const base = { wallMs };
  const compile = res.compile_result;
  const run = res.run_result;
  if (res.status === 'SandboxError' || compile?.status === 'Error' || run?.status === 'Error') {
    const msg = res.message || run?.stderr || compile?.stderr || '';
    return {
      ...base,
      status: 'sandbox_error',
      stdout: '',
      stderr: '',
      exitCode: null,
      reason: msg.slice(0, 500) || 'the sandbox failed to run the program',
    };
  }
  if (compile && (compile.status !== 'Finished' || (compile.return_code ?? 0) !== 0)) {
    return {
      ...base,
      status: compile.status === 'TimeLimitExceeded' ? 'timeout' : 'error',
      stdout: compile.stdout,
      stderr: compile.stderr,
      exitCode: compile.return_code,
      reason: 'compile',
    };
  }
  if (!run)
    return {
      ...base,
      status: 'sandbox_error',
      stdout: '',
      stderr: '',
      exitCode: null,
      reason: `the answer (status ${res.status}) has no run_result`,
    };
  const files = Object.keys(res.files).length > 0 ? { files: res.files } : {};
  if (run.status === 'TimeLimitExceeded')
    return { ...base, status: 'timeout', stdout: run.stdout, stderr: run.stderr, exitCode: run.return_code, ...files };
  const failed = res.status === 'Failed' || (run.return_code ?? 0) !== 0;
  // 128 + N is a shell's way to say signal N; only read so when stderr is silent (exit(137) is rare)
  const killed = failed && signalOf(run.return_code, run.stderr.trim() === '') !== null;
  return {
    ...base,
    status: killed ? 'killed' : failed ? 'error' : 'ok',
    stdout: run.stdout,
    stderr: run.stderr,
    exitCode: run.return_code,
    ...files,
  };
}
