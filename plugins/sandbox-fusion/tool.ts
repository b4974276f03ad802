import type { Logger, ParsedAction, Tool, ToolResult } from '../../core/index.js';
import { extractCodeBlock, observationOf } from './action.js';
import { CancelledError, SandboxFusionClient, SandboxUnavailableError, type ClientOptions } from './client.js';
import type { RunCodeRequest, RunCodeResponse } from './protocol.js';

export interface SandboxFusionToolOptions extends Omit<ClientOptions, 'rand'> {
  name: string;
  language: string;
  fences: string[];
  runTimeoutS: number;
  compileTimeoutS: number;
  memoryLimitMB: number;
  stdin: string;
  maxObservationChars: number;
  errorTailChars: number;
}

/** One program's raw outcome, in the shape `agent0 sandbox exec` prints. */
export interface ExecOutcome {
  status: 'ok' | 'error' | 'timeout' | 'sandbox_error';
  stdout: string;
  stderr: string;
  exitCode: number | null;
  wallMs: number;
  /** Why the sandbox failed, or which stage failed ('compile'). */
  reason?: string;
}

/**
 * Runs the model's ```python blocks on SandboxFusion servers. Stateless: each call is a fresh
 * program (SandboxFusion keeps nothing between calls), so `finish` has nothing to free.
 */
export class SandboxFusionTool implements Tool {
  readonly name: string;
  readonly client: SandboxFusionClient;

  constructor(private readonly o: SandboxFusionToolOptions, private readonly log?: Logger, private readonly runSignal?: AbortSignal, rand?: () => number) {
    this.name = o.name;
    this.client = new SandboxFusionClient({ ...o, rand });
  }

  parseAction(text: string): ParsedAction {
    const code = extractCodeBlock(text, this.o.fences);
    return code === null ? { valid: false } : { valid: true, action: code };
  }

  async conductAction(_trajectoryId: string, action: string, extra?: Record<string, unknown>): Promise<ToolResult> {
    const r = await this.exec(action, extra);
    const info: Record<string, string | number | boolean> = { status: r.status, wallMs: r.wallMs };
    if (r.exitCode !== null) info.exitCode = r.exitCode;
    if (r.status === 'sandbox_error') {
      return { observation: `sandbox error: ${(r.reason ?? 'the sandbox failed to run the program').slice(0, 500)}`, done: false, valid: false, info };
    }
    if (r.reason) info.stage = r.reason;
    const limits = { maxChars: this.o.maxObservationChars, errorTailChars: this.o.errorTailChars };
    const note = r.status !== 'timeout' ? undefined
      : r.reason === 'compile' ? `CompileTimeout: compilation ran longer than ${this.o.compileTimeoutS} s and was stopped`
        : `TimeoutError: the program ran longer than ${this.o.runTimeoutS} s and was stopped`;
    // A program that raised or timed out is still a valid action: the model's fault, to learn from.
    return { observation: observationOf(r.stdout, r.stderr, r.status !== 'ok', limits, note), done: false, valid: true, info };
  }

  /** Runs one program and reports its raw outcome; never throws. `extra.stdin` and `extra.signal` apply. */
  async exec(code: string, extra?: Record<string, unknown>): Promise<ExecOutcome> {
    const stdin = typeof extra?.stdin === 'string' ? extra.stdin : this.o.stdin;
    const req: RunCodeRequest = {
      code,
      language: this.o.language,
      compile_timeout: this.o.compileTimeoutS,
      run_timeout: this.o.runTimeoutS,
      memory_limit_MB: this.o.memoryLimitMB,
      ...(stdin.length > 0 ? { stdin } : {}),
    };
    const signals = [extra?.signal, this.runSignal].filter((s): s is AbortSignal => s instanceof AbortSignal);
    const t0 = performance.now();
    const wall = () => Math.round(performance.now() - t0);
    try {
      const res = await this.client.run(req, signals.length > 0 ? AbortSignal.any(signals) : undefined);
      return outcomeOf(res, wall());
    } catch (e) {
      const reason = e instanceof CancelledError ? 'the call was cancelled'
        : e instanceof SandboxUnavailableError ? e.message : `unexpected client failure: ${(e as Error).message}`;
      if (!(e instanceof CancelledError)) this.log?.warn(`sandbox-fusion: ${reason}`);
      return { status: 'sandbox_error', stdout: '', stderr: '', exitCode: null, wallMs: wall(), reason };
    }
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
    return { ...base, status: 'sandbox_error', stdout: '', stderr: '', exitCode: null, reason: msg.slice(0, 500) || 'the sandbox failed to run the program' };
  }
  if (compile && (compile.status !== 'Finished' || (compile.return_code ?? 0) !== 0)) {
    return { ...base, status: compile.status === 'TimeLimitExceeded' ? 'timeout' : 'error', stdout: compile.stdout, stderr: compile.stderr, exitCode: compile.return_code, reason: 'compile' };
  }
  if (!run) return { ...base, status: 'sandbox_error', stdout: '', stderr: '', exitCode: null, reason: `the answer (status ${res.status}) has no run_result` };
  if (run.status === 'TimeLimitExceeded') return { ...base, status: 'timeout', stdout: run.stdout, stderr: run.stderr, exitCode: run.return_code };
  const failed = res.status === 'Failed' || (run.return_code ?? 0) !== 0;
  return { ...base, status: failed ? 'error' : 'ok', stdout: run.stdout, stderr: run.stderr, exitCode: run.return_code };
}
