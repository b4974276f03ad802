import type { ParsedAction, Tool, ToolResult } from '../../core/index.js';
import { parseCodeToolAction } from '../shared/code-action.js';
import { observationOf } from './action.js';
import { preImportModules, preludeOf, shiftCodeLines } from './preimport.js';
import type { PythonToolOptions } from './options.js';
import { PythonSandbox } from './sandbox.js';
import type { ExecResult } from './worker.js';

export type { PythonToolOptions };

export const SESSION_LOST_NOTE = 'Note: the interpreter was restarted; variables from earlier calls are gone.';

/** Runs the model's ```python blocks in the warm, isolated worker pool. */
export class PythonTool implements Tool {
  private readonly prelude: string;

  constructor(
    readonly name: string,
    readonly sandbox: PythonSandbox,
    private readonly o: PythonToolOptions,
  ) {
    this.prelude = preludeOf(o.preImport ?? 'none');
  }

  static async create(name: string, o: PythonToolOptions, warn?: (msg: string) => void): Promise<PythonTool> {
    const preload = [...new Set([...o.preload, ...preImportModules(o.preImport ?? 'none')])];
    const tool = new PythonTool(name, await PythonSandbox.create({ ...o, preload }, warn), o);
    if (tool.prelude) {
      // A module that does not import would fail every program: refuse now, before any work starts.
      const r = await tool.sandbox.exec(tool.prelude);
      if (r.status !== 'ok') {
        await tool.dispose();
        throw new Error(
          `tool/python: preImport ${JSON.stringify(o.preImport)} fails in ${tool.sandbox.info.interpreter.exe}: ${(r.stderr || r.reason || r.status).trim().split('\n').pop()}`,
        );
      }
    }
    return tool;
  }

  /** How programs run here: the isolation mode, what it lacks, the interpreter. */
  describe(): Record<string, unknown> {
    const { mode, missing, interpreter, workers } = this.sandbox.info;
    return { isolation: mode, missing, python: `${interpreter.exe} ${interpreter.version}`, workers };
  }

  parseAction(text: string): ParsedAction {
    return parseCodeToolAction(text, this.o.stop);
  }

  /** One program through the sandbox, with the raw result (`agent0 sandbox exec`, bench). */
  exec(code: string, opts: { session?: string; stdin?: string } = {}): Promise<ExecResult> {
    return this.sandbox.exec(code, opts);
  }

  async conductAction(trajectoryId: string, action: string, extra?: Record<string, unknown>): Promise<ToolResult> {
    const stdin = typeof extra?.stdin === 'string' ? extra.stdin : undefined;
    const signal = extra?.signal instanceof AbortSignal ? extra.signal : undefined;
    let r: ExecResult;
    try {
      r = await this.sandbox.exec(this.prelude + String(action ?? ''), {
        ...(this.o.stateful ? { session: String(trajectoryId) } : {}),
        ...(stdin ? { stdin } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      // exec is built never to reject; this is the last line of defence for the batch.
      r = { status: 'sandbox_error', stdout: '', stderr: '', exitCode: null, wallMs: 0, reason: (e as Error).message };
    }
    if (this.prelude) r = { ...r, stderr: shiftCodeLines(r.stderr) };
    let observation = observationOf(
      r,
      { maxChars: this.o.maxObservationChars, errorTailChars: this.o.errorTailChars },
      this.o.timeoutSeconds,
    );
    // Killed or restarted: the model must not assume its variables are still there.
    if (this.o.stateful && r.sessionLost) observation = `${observation}${observation ? '\n' : ''}${SESSION_LOST_NOTE}`;
    // Which isolation ran the program travels with every result, so a run report can show it.
    const info: Record<string, string | number | boolean> = {
      status: r.status,
      wallMs: r.wallMs,
      isolation: this.sandbox.info.mode,
    };
    if (r.exitCode !== null) info.exitCode = r.exitCode;
    if (r.truncated) info.truncated = true;
    if (r.reason) info.reason = r.reason;
    return { observation, done: false, valid: r.status !== 'sandbox_error', info };
  }

  async finish(trajectoryId: string): Promise<void> {
    if (this.o.stateful) await this.sandbox.endSession(String(trajectoryId));
  }

  async dispose(): Promise<void> {
    await this.sandbox.close();
  }
}
