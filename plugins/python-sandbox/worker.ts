import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { bootstrapSource, workerSourcesOnStdin } from './python-sources.js';
import {
  SANDBOX_UID,
  bwrapArgs,
  spawnIdentity,
  type BwrapFeatures,
  type InterpreterInfo,
  type IsolationMode,
} from './isolation.js';
import type { PythonToolOptions } from './options.js';
import { killAndWait, killGroup } from './process-group.js';

export type ExecStatus = 'ok' | 'error' | 'timeout' | 'killed' | 'sandbox_error';

/** The result of one program run, as `agent0 sandbox exec` prints it. */
export interface ExecResult {
  status: ExecStatus;
  stdout: string;
  stderr: string;
  exitCode: number | null;
  wallMs: number;
  /** Why the run was stopped (timeout, CPU limit, output cap) or why the sandbox failed. */
  reason?: string;
  truncated?: boolean;
  /** Stateful runs: the interpreter state of this trajectory was lost (killed run) or is new. */
  sessionLost?: boolean;
  sessionNew?: boolean;
}

/** Limits of one run, as tool/python's options name them (the worker gets them in its own units). */
export type RunLimits = Pick<
  PythonToolOptions,
  | 'timeoutSeconds'
  | 'cpuSeconds'
  | 'memoryMb'
  | 'maxProcesses'
  | 'maxFileSizeMb'
  | 'maxOpenFiles'
  | 'maxOutputBytes'
  | 'sessionCpuSeconds'
  | 'maxSessions'
>;

export interface WorkerSpec {
  mode: Exclude<IsolationMode, 'wasm'>;
  features: BwrapFeatures;
  interpreter: InterpreterInfo;
  preload: string[];
  scratchMb: number;
  bwrap: string;
  /** Python run once per worker after the preload imports (trusted recipe code, not model code). */
  warmup: string;
}

interface Pending {
  resolve(r: Record<string, unknown>): void;
  timer: NodeJS.Timeout;
}

/** How long a worker may take to import its preload modules and say hello. */
const START_TIMEOUT_MS = 120_000;

/** Grace the worker gets beyond a run's own timeout before Node kills it as hung. */
const WATCHDOG_GRACE_MS = 5000;

/**
 * One warm Python process (inside bwrap when available) that forks per program; its code is the
 * agent0_sandbox package (python/agent0_sandbox/worker.py), handed over by bootstrap.py.
 * Requests are queued here so that exactly one runs at a time: the worker's sweep of leftover
 * processes relies on that.
 */
export class PythonWorker {
  private proc?: ChildProcess;
  private ready?: Promise<void>;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private chain: Promise<unknown> = Promise.resolve();
  private hostScratch?: string;
  private stderrTail = '';
  /** Bumped whenever the process is (re)started: sessions of an older generation are gone. */
  generation = 0;
  /** The running process's hello: what it imported and which of its guards are in place. */
  hello?: Record<string, unknown>;

  constructor(private readonly spec: WorkerSpec) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  start(): Promise<void> {
    if (this.ready) return this.ready;
    this.generation++;
    const { mode, interpreter, preload, scratchMb, bwrap } = this.spec;
    this.hello = undefined;
    const cfg: Record<string, unknown> = { preload, warmup: this.spec.warmup };
    let cmd: string;
    let args: string[];
    if (mode === 'none') {
      this.hostScratch = mkdtempSync(path.join(os.tmpdir(), 'agent0-sandbox-'));
      if (spawnIdentity(mode).uid !== undefined) chownSync(this.hostScratch, SANDBOX_UID, SANDBOX_UID);
      cfg.scratch = this.hostScratch;
      cmd = interpreter.exe;
      args = ['-I', '-c', bootstrapSource(), JSON.stringify(cfg)];
    } else {
      cfg.scratch = '/scratch';
      cfg.private_shm = true;
      cfg.private_ipc = true;
      if (mode === 'bwrap-root') cfg.drop_to = SANDBOX_UID;
      cmd = bwrap;
      args = [
        ...bwrapArgs(mode, this.spec.features, interpreter, scratchMb * 1024 * 1024),
        interpreter.exe,
        '-I',
        '-c',
        bootstrapSource(),
        JSON.stringify(cfg),
      ];
    }
    // No secret of ours may reach the sandbox, not even through /proc/1/environ of bwrap itself.
    const env: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      OPENBLAS_NUM_THREADS: '1',
      OMP_NUM_THREADS: '1',
    };
    const proc = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env,
      cwd: '/',
      detached: true,
      ...spawnIdentity(mode),
    });
    this.proc = proc;
    // An idle pool must not keep Node alive (a forgotten dispose); a pending call's watchdog timer does.
    proc.unref();
    for (const st of [proc.stdin, proc.stdout, proc.stderr])
      (st as unknown as { unref?: () => void } | null)?.unref?.();
    this.stderrTail = '';
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-4000);
    });
    proc.stdin?.on('error', () => {});
    // The worker's code comes on stdin, ahead of the requests: nothing of the project is mounted into
    // the sandbox or must be readable by its user, and the command line stays short.
    proc.stdin?.write(workerSourcesOnStdin());
    const lines = createInterface({ input: proc.stdout! });
    this.ready = new Promise<void>((resolve, reject) => {
      let hello = false;
      // Imports that hang (a broken site-packages, a stalled filesystem) must not hang every call.
      const startTimer = setTimeout(() => {
        if (hello) return;
        reject(
          new Error(
            `the Python worker did not start within ${START_TIMEOUT_MS / 1000} s${this.stderrTail ? `: ${this.stderrTail.trim().slice(-500)}` : ''}`,
          ),
        );
        this.kill();
      }, START_TIMEOUT_MS);
      lines.on('line', (line) => {
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        if (!hello) {
          hello = true;
          this.hello = msg;
          clearTimeout(startTimer);
          resolve();
          return;
        }
        const p = this.pending.get(msg.id as number);
        if (p) {
          clearTimeout(p.timer);
          this.pending.delete(msg.id as number);
          p.resolve(msg);
        }
      });
      proc.on('error', (e) => {
        const why = `cannot start the Python worker (${cmd}): ${e.message}`;
        reject(new Error(why));
        this.detach(proc, why);
      });
      proc.on('exit', (code, sig) => {
        const why = `Python worker exited (${sig ?? code})${this.stderrTail ? `: ${this.stderrTail.trim().slice(-500)}` : ''}`;
        if (!hello) reject(new Error(why));
        this.detach(proc, why);
      });
    });
    this.ready.catch(() => {});
    return this.ready;
  }

  /**
   * Forgets a dead (or killed) process and fails its pending requests, so the next request starts
   * a fresh one at once. Events of a process already replaced are ignored.
   */
  private detach(proc: ChildProcess, why: string): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    this.ready = undefined;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ id, status: 'sandbox_error', reason: why });
    }
    this.pending.clear();
    this.cleanHostScratch();
  }

  private cleanHostScratch(): void {
    if (this.hostScratch) rmSync(this.hostScratch, { recursive: true, force: true });
    this.hostScratch = undefined;
  }

  /** Runs one request after the ones queued before it. Never rejects. */
  request(req: Record<string, unknown>, watchdogMs: number): Promise<Record<string, unknown>> {
    const run = async (): Promise<Record<string, unknown>> => {
      try {
        await this.start();
      } catch (e) {
        return { status: 'sandbox_error', reason: (e as Error).message };
      }
      const id = this.nextId++;
      const stdin = this.proc?.stdin;
      if (!stdin) return { id, status: 'sandbox_error', reason: 'the Python worker exited right after it started' };
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          this.pending.delete(id);
          this.kill();
          resolve({
            id,
            status: 'sandbox_error',
            reason: `worker did not answer within ${watchdogMs + WATCHDOG_GRACE_MS} ms and was restarted`,
          });
        }, watchdogMs + WATCHDOG_GRACE_MS);
        this.pending.set(id, { resolve, timer });
        stdin.write(`${JSON.stringify({ ...req, id })}\n`);
      });
    };
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => {});
    return result;
  }

  /** Kills the worker and everything in it (its own process group; bwrap's pid namespace takes the rest). */
  kill(): void {
    const proc = this.proc;
    if (!proc?.pid) return;
    killGroup(proc);
    this.detach(proc, 'the Python worker was killed');
  }

  async close(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    await killAndWait(proc, () => this.kill());
    this.cleanHostScratch();
  }
}

export function limitsToRequest(l: RunLimits): Record<string, number> {
  const mb = 1024 * 1024;
  return {
    timeout: l.timeoutSeconds,
    cpu: Math.max(1, Math.ceil(l.cpuSeconds)),
    mem: l.memoryMb > 0 ? l.memoryMb * mb : 0,
    nproc: l.maxProcesses,
    fsize: l.maxFileSizeMb * mb,
    nofile: l.maxOpenFiles,
    max_output: l.maxOutputBytes,
    session_cpu: l.sessionCpuSeconds,
    max_sessions: l.maxSessions,
  };
}

export function replyToResult(r: Record<string, unknown>): ExecResult {
  const status = (r.status as ExecStatus) ?? 'sandbox_error';
  const out: ExecResult = {
    status,
    stdout: (r.stdout as string) ?? '',
    stderr: (r.stderr as string) ?? '',
    exitCode: typeof r.exit_code === 'number' ? r.exit_code : null,
    wallMs: typeof r.wall_ms === 'number' ? Math.round(r.wall_ms * 10) / 10 : 0,
  };
  if (r.reason) out.reason = r.reason as string;
  if (r.truncated) out.truncated = true;
  if (r.session_lost) out.sessionLost = true;
  if (r.session_new) out.sessionNew = true;
  return out;
}
