import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { bootstrapSource, sandboxModules } from './python-sources.js';
import { WASM_CHILD_SOURCE } from './wasm-child-source.js';
import { bootLine, childCommand, childFlags, type PyodidePackage, type WasmLaunch } from './wasm-isolation.js';
import type { PythonWorker } from './worker.js';
import { killAndWait, killGroup } from './process-group.js';

/** What the pool needs of a worker, whichever kind runs the programs. */
export type SandboxWorker = Pick<PythonWorker, 'start' | 'request' | 'kill' | 'close' | 'pid' | 'generation' | 'hello'>;

export interface WasmWorkerSpec {
  pkg: PyodidePackage;
  launch: WasmLaunch;
  preload: string[];
  warmup: string;
  /** Cap of the interpreter's heap (the WebAssembly memory's maximum), MiB; 0: none. */
  memoryMb: number;
  /**
   * Shared by the workers of one pool: the memory snapshot (base64) the first child made at boot, before
   * any program ran in it; later children start from it instead of importing the preload modules again.
   */
  boot: { snapshot?: string };
}

/** Node's own heap in the child (pyodide's JS side; the interpreter's heap is the wasm memory, capped apart). */
const CHILD_HEAP_MB = 256;
/** Booting pyodide takes 2 to 3 s on one free core; a loaded machine gets this long. */
const START_TIMEOUT_MS = 60_000;
/** Past the program's deadline, time for its reply to cross the pipe before the child is killed. */
const DEADLINE_GRACE_MS = 250;
/** Beyond the memory cap, what the JS side (files in the in-memory filesystem, pyodide's objects) may add. */
const RSS_HEADROOM_BYTES = 192 * 1024 * 1024;

function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface Call {
  id: number;
  req: Record<string, unknown>;
  out: Buffer[];
  err: Buffer[];
  bytes: number;
  t0: number;
  /** The child began the program (its interpreter was ready): the deadline and the memory watch start. */
  started(): void;
  finish(extra: Record<string, unknown>): void;
}

/**
 * One warm Node child running CPython compiled to WebAssembly (pyodide), each interpreter in a
 * locked-down vm context of its own (wasm-child-source.ts). Programs run one at a time, each in a fresh
 * interpreter (a stateful session keeps one for its cells); a program that runs past its deadline,
 * floods its output or outgrows its memory is stopped by killing the child, and a fresh one boots at
 * once. Same request and reply shapes as the process worker (worker.ts).
 */
export class WasmWorker implements SandboxWorker {
  private proc?: ChildProcess;
  private ready?: Promise<void>;
  private nextId = 1;
  private chain: Promise<unknown> = Promise.resolve();
  private call?: Call;
  private stderrTail = '';
  private bootRss = 0;
  private closed = false;
  generation = 0;
  hello?: Record<string, unknown>;

  constructor(private readonly spec: WasmWorkerSpec) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  start(): Promise<void> {
    if (this.ready) return this.ready;
    this.generation++;
    this.hello = undefined;
    const { launch } = this.spec;
    const [cmd, args] = childCommand(launch.wrap, childFlags(CHILD_HEAP_MB), WASM_CHILD_SOURCE);
    // An empty environment: no NODE_OPTIONS (it could preload code) and no secret of ours.
    const proc = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
      cwd: '/',
      detached: true,
      ...(launch.uid !== undefined ? { uid: launch.uid, gid: launch.gid } : {}),
    });
    this.proc = proc;
    proc.unref();
    for (const st of [proc.stdin, proc.stdout, proc.stderr])
      (st as unknown as { unref?: () => void } | null)?.unref?.();
    this.stderrTail = '';
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-4000);
    });
    proc.stdin?.on('error', () => {});
    const lines = createInterface({ input: proc.stdout!, crlfDelay: Infinity });
    this.ready = new Promise<void>((resolve, reject) => {
      let hello = false;
      const startTimer = setTimeout(() => {
        if (hello) return;
        reject(new Error(`the wasm Python worker did not start within ${START_TIMEOUT_MS / 1000} s${this.tail()}`));
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
          // Only a child that has run no program yet hands over a snapshot.
          if (typeof msg.snapshot === 'string') this.spec.boot.snapshot ??= msg.snapshot;
          delete msg.snapshot;
          this.hello = msg;
          this.bootRss = (proc.pid && rssOf(proc.pid)) || 0;
          clearTimeout(startTimer);
          resolve();
          return;
        }
        this.onMessage(proc, msg);
      });
      proc.on('error', (e) => {
        reject(new Error(`cannot start the wasm Python worker (${cmd}): ${e.message}`));
        this.detach(proc, { status: 'sandbox_error', reason: `cannot start the wasm Python worker: ${e.message}` });
      });
      proc.on('exit', (code, sig) => {
        const why = `wasm Python worker exited (${sig ?? code})${this.tail()}`;
        if (!hello) reject(new Error(why));
        this.detach(proc, { status: 'sandbox_error', reason: why });
      });
    });
    this.ready.catch(() => {});
    const { snapshot } = this.spec.boot;
    const runner = { bootstrap: bootstrapSource(), modules: sandboxModules(['run_program', 'wasm_runner']) };
    proc.stdin?.write(
      bootLine(this.spec.pkg, {
        preload: this.spec.preload,
        warmup: this.spec.warmup,
        memoryMb: this.spec.memoryMb,
        runner,
        ...(snapshot ? { snapshot } : {}),
      }),
    );
    return this.ready;
  }

  private tail(): string {
    return this.stderrTail.trim() ? `: ${this.stderrTail.trim().slice(-500)}` : '';
  }

  private onMessage(proc: ChildProcess, msg: Record<string, unknown>): void {
    const c = this.call;
    if (!c || msg.id !== c.id || this.proc !== proc) return;
    if (Array.isArray(msg.out)) {
      for (const [fd, b64] of msg.out as [number, string][]) {
        const b = Buffer.from(String(b64), 'base64');
        (fd === 2 ? c.err : c.out).push(b);
        c.bytes += b.length;
      }
      if (c.bytes > (c.req.max_output as number))
        this.stop(c, 'killed', `output limit of ${c.req.max_output as number} bytes exceeded`);
      return;
    }
    if (msg.start === true) {
      c.started();
      return;
    }
    if (msg.cap === true) {
      this.stop(c, 'killed', `output limit of ${c.req.max_output as number} bytes exceeded`);
      return;
    }
    c.finish(msg);
    // The child could not make a fresh interpreter and exits. The interpreter a program used (and its
    // memory) is dropped by the child, so a grown child needs no replacing.
    if (msg.fatal === true) this.restart();
  }

  /** Ends a call that broke a limit: the child dies with the program in it, and a fresh one boots. */
  private stop(c: Call, status: string, reason: string): void {
    c.finish({
      status,
      reason,
      exit_code: -9,
      truncated: status === 'killed' && reason.startsWith('output'),
      ...lostWithChild(c.req),
    });
    this.restart();
  }

  private restart(): void {
    this.kill();
    if (!this.closed) this.start().catch(() => {});
  }

  /** Forgets a dead or killed child and fails its call; events of a child already replaced are ignored. */
  private detach(proc: ChildProcess, reply: Record<string, unknown>): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    this.ready = undefined;
    this.call?.finish({ ...reply, ...lostWithChild(this.call.req) });
  }

  /** Runs one request after the ones queued before it. Never rejects. */
  request(req: Record<string, unknown>, watchdogMs: number): Promise<Record<string, unknown>> {
    const run = async (): Promise<Record<string, unknown>> => {
      try {
        await this.start();
      } catch (e) {
        return { status: 'sandbox_error', reason: (e as Error).message };
      }
      const proc = this.proc;
      if (!proc?.stdin || !proc.pid)
        return { status: 'sandbox_error', reason: 'the wasm Python worker exited right after it started' };
      const id = this.nextId++;
      const pid = proc.pid;
      return new Promise((resolve) => {
        const cpuMs = typeof req.cpu === 'number' ? req.cpu * 1000 : Infinity;
        const timeoutMs = typeof req.timeout === 'number' ? req.timeout * 1000 : watchdogMs;
        // One interpreter thread: CPU time cannot exceed wall time, so the CPU limit is a deadline too.
        const byCpu = cpuMs < timeoutMs;
        const deadline = Math.min(cpuMs, timeoutMs);
        let poll: NodeJS.Timeout | undefined;
        let timer: NodeJS.Timeout | undefined;
        const c: Call = {
          id,
          req,
          out: [],
          err: [],
          bytes: 0,
          t0: performance.now(),
          started: () => {
            c.t0 = performance.now();
            clearTimeout(timer);
            timer = setTimeout(() => {
              this.stop(
                c,
                byCpu ? 'killed' : 'timeout',
                byCpu ? 'CPU time limit exceeded' : `wall-clock limit of ${timeoutMs / 1000}s exceeded`,
              );
            }, deadline + DEADLINE_GRACE_MS);
            // From what the child holds as the program starts (live sessions' interpreters included).
            const memCap =
              typeof req.mem === 'number' && req.mem > 0 && this.bootRss > 0
                ? Math.max(this.bootRss, rssOf(pid) ?? 0) + req.mem + RSS_HEADROOM_BYTES
                : 0;
            if (memCap > 0 && process.platform === 'linux') {
              // The wasm heap is capped where it is made; this catches what grows on the JS side (files in
              // the in-memory filesystem), which no flag of Node caps.
              poll = setInterval(() => {
                const rss = rssOf(pid);
                if (rss !== undefined && rss > memCap) this.stop(c, 'killed', 'memory limit exceeded');
              }, 100);
              poll.unref();
            }
          },
          finish: (extra) => {
            if (this.call !== c) return;
            this.call = undefined;
            clearTimeout(timer);
            if (poll) clearInterval(poll);
            const out = Buffer.concat(c.out);
            const err = Buffer.concat(c.err);
            const cap = req.max_output as number;
            const so = out.subarray(0, cap);
            const se = err.subarray(0, Math.max(0, cap - so.length));
            resolve({
              id,
              status: 'sandbox_error',
              exit_code: null,
              wall_ms: performance.now() - c.t0,
              ...extra,
              stdout: so.toString('utf8'),
              stderr: se.toString('utf8'),
              truncated: extra.truncated === true || out.length + err.length > cap,
            });
          },
        };
        // Until the program starts it waits for its fresh interpreter, which the child may still be making.
        timer = setTimeout(() => {
          c.finish({
            status: 'sandbox_error',
            reason: `the wasm Python worker had no interpreter ready within ${START_TIMEOUT_MS / 1000} s`,
          });
          this.restart();
        }, START_TIMEOUT_MS);
        this.call = c;
        proc.stdin!.write(`${JSON.stringify({ ...req, id })}\n`);
      });
    };
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => {});
    return result;
  }

  kill(): void {
    const proc = this.proc;
    if (!proc?.pid) return;
    killGroup(proc);
    this.detach(proc, { status: 'sandbox_error', reason: 'the wasm Python worker was killed' });
  }

  async close(): Promise<void> {
    this.closed = true;
    const proc = this.proc;
    if (!proc) return;
    await killAndWait(proc, () => this.kill());
  }
}

/**
 * A stateful call whose child is killed or dies loses its session with it: said in the call's own
 * reply, as the bubblewrap worker says it, not only at the session's next call.
 */
function lostWithChild(req: Record<string, unknown>): { session_lost?: true } {
  return req.session !== undefined ? { session_lost: true } : {};
}
