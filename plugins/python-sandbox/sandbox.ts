import {
  chooseIsolation,
  findInterpreter,
  spawnIdentity,
  type BwrapFeatures,
  type InterpreterInfo,
  type IsolationChoice,
  type IsolationMode,
} from './isolation.js';
import { DEFAULT_WARMUP, type PythonToolOptions } from './options.js';
import { wasmChoice, wasmGuardsMissing } from './wasm-choice.js';
import { WasmWorker, type SandboxWorker } from './wasm-worker.js';
import { limitsToRequest, PythonWorker, replyToResult, type ExecResult, type RunLimits } from './worker.js';

/**
 * Which isolation may run model-written code (docs/sandbox.md):
 *  - 'auto': the strongest bubblewrap mode that works here, else 'wasm' (never unisolated);
 *  - 'required': a bubblewrap mode (full CPython with the host's packages) or refuse to start;
 *  - 'wasm': CPython compiled to WebAssembly in a locked-down Node child, whatever else works;
 *  - 'none': no isolation, only when a recipe says so.
 */
export type IsolationPolicy = PythonToolOptions['isolation'];

/** What the sandbox reads of tool/python's options. */
export type SandboxOptions = RunLimits &
  Pick<
    PythonToolOptions,
    'interpreter' | 'isolation' | 'bwrap' | 'userNamespace' | 'workers' | 'preload' | 'scratchMb' | 'warmup'
  >;

export interface SandboxInfo {
  mode: IsolationMode;
  features: BwrapFeatures;
  /**
   * What the mode lacks, and guards the workers could not put in place (a seccomp filter on an unknown architecture).
   */
  missing: string[];
  notes: string[];
  interpreter: InterpreterInfo;
  workers: number;
}

/** Thrown when no isolated mode works here and the recipe did not opt out with `isolation: none`. */
export class IsolationUnavailableError extends Error {
  constructor(choice: IsolationChoice, policy: IsolationPolicy = 'required') {
    super(
      `python sandbox: no ${policy === 'required' ? 'bubblewrap' : 'isolated'} mode works here (missing: ${choice.missing.join('; ')}). ` +
        `${choice.notes.join('; ')}. Install bubblewrap (apt-get install bubblewrap) and allow unprivileged ` +
        'user namespaces (sysctl user.max_user_namespaces > 0), or run as root' +
        `${policy === 'required' ? '; or set isolation: auto to fall back to CPython in WebAssembly (the pyodide npm package)' : '; or reinstall the npm dependencies (pyodide)'}` +
        '; or set isolation: none in the recipe to run model-written code WITHOUT isolation (rlimits only).',
    );
    this.name = 'IsolationUnavailableError';
  }
}

interface Job {
  req: Record<string, unknown>;
  watchdogMs: number;
  done(worker: SandboxWorker, reply: Record<string, unknown>): void;
}

const warned = new Set<string>();

function warnOnce(warn: (msg: string) => void, msg: string): void {
  if (warned.has(msg)) return;
  warned.add(msg);
  warn(msg);
}

function wellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** What a worker's hello says it could not put in place (workers of one pool are alike). */
function guardsMissing(hello: Record<string, unknown> | undefined): string[] {
  const out: string[] = [];
  if (hello?.undumpable !== true) out.push('the worker is still dumpable (PR_SET_DUMPABLE failed)');
  if (typeof hello?.seccomp_error === 'string') out.push(`no seccomp filter (${hello.seccomp_error})`);
  return out;
}

/** Resolves interpreter and isolation once per distinct configuration (probing spawns processes). */
const probes = new Map<string, { interpreter: InterpreterInfo; choice: IsolationChoice }>();

function probeEnvironment(o: SandboxOptions): { interpreter: InterpreterInfo; choice: IsolationChoice } {
  const key = JSON.stringify([o.interpreter, o.preload, o.isolation, o.bwrap, o.userNamespace]);
  let p = probes.get(key);
  if (!p) {
    p = pickIsolation(o);
    probes.set(key, p);
  }
  return p;
}

/**
 * The policy applied: a bubblewrap mode with a host interpreter, else (auto) wasm; throws where the policy allows
 * neither.
 */
function pickIsolation(o: SandboxOptions): { interpreter: InterpreterInfo; choice: IsolationChoice } {
  if (o.isolation === 'wasm') return wasmOrThrow([], o.isolation);
  if (o.isolation === 'none') {
    const choice: IsolationChoice = {
      mode: 'none',
      missing: ['isolation disabled by the recipe (isolation: none)'],
      notes: [],
      features: { disableUserns: false, asPid1: false },
    };
    return { interpreter: findInterpreter(o.interpreter, o.preload, spawnIdentity(choice.mode)), choice };
  }
  const choice = chooseIsolation(o.bwrap, o.userNamespace);
  if (choice.mode === 'none') {
    if (o.isolation === 'required') throw new IsolationUnavailableError(choice, o.isolation);
    return wasmOrThrow(choice.notes, o.isolation);
  }
  try {
    return { interpreter: findInterpreter(o.interpreter, o.preload, spawnIdentity(choice.mode)), choice };
  } catch (e) {
    // bubblewrap without a Python to run in it (an npm-only machine): the interpreter pyodide brings;
    // an interpreter the recipe names is a mistake to report, not to work around.
    if (o.isolation === 'required' || o.interpreter !== 'auto') throw e;
    return wasmOrThrow([...choice.notes, `${choice.mode} has no interpreter: ${(e as Error).message}`], o.isolation);
  }
}

function wasmOrThrow(
  notes: string[],
  policy: IsolationPolicy,
): { interpreter: InterpreterInfo; choice: IsolationChoice } {
  const w = wasmChoice(notes);
  if (typeof w === 'string') {
    throw new IsolationUnavailableError(
      { mode: 'none', missing: [w], notes, features: { disableUserns: false, asPid1: false } },
      policy,
    );
  }
  return w;
}

/**
 * A pool of warm Python workers. Stateless programs go to the least-loaded worker; a stateful
 * session stays on the worker that holds its interpreter state.
 */
export class PythonSandbox {
  private readonly workers: SandboxWorker[];
  private readonly sessions = new Map<string, { worker: SandboxWorker; generation: number }>();
  private readonly queue: Job[] = [];
  private readonly pinned = new Map<SandboxWorker, Job[]>();
  private readonly busy = new Set<SandboxWorker>();
  private closed = false;

  private constructor(
    readonly options: SandboxOptions,
    readonly info: SandboxInfo,
  ) {
    const warmup = options.warmup === 'default' ? DEFAULT_WARMUP : options.warmup;
    if (info.mode === 'wasm') {
      const w = wasmChoice([]);
      if (typeof w === 'string') throw new Error(w);
      const spec = {
        pkg: w.pkg,
        launch: w.launch,
        preload: options.preload,
        warmup,
        memoryMb: options.memoryMb,
        boot: {},
      };
      this.workers = Array.from({ length: options.workers }, () => new WasmWorker(spec));
    } else {
      const spec = {
        mode: info.mode,
        features: info.features,
        interpreter: info.interpreter,
        preload: info.interpreter.has,
        scratchMb: options.scratchMb,
        bwrap: options.bwrap,
        warmup,
      };
      this.workers = Array.from({ length: options.workers }, () => new PythonWorker(spec));
    }
  }

  /** Probes the interpreter and isolation, applies the isolation policy, and starts the workers. */
  static async create(
    o: SandboxOptions,
    warn: (msg: string) => void = (m) => process.emitWarning(m),
  ): Promise<PythonSandbox> {
    const { interpreter: probed, choice } = probeEnvironment(o);
    if (choice.mode === 'wasm' && o.isolation === 'auto') {
      warnOnce(
        warn,
        `python sandbox: no bubblewrap mode works here (${choice.notes.join('; ')}); model-written code runs in CPython compiled to ` +
          "WebAssembly (pyodide) in a locked-down Node process: standard library only. Install bubblewrap (apt-get install bubblewrap) for the host's Python and packages.",
      );
    }
    const interpreter = { ...probed, has: [...probed.has] };
    const sb = new PythonSandbox(o, {
      mode: choice.mode,
      features: choice.features,
      missing: [...choice.missing],
      notes: choice.notes,
      interpreter,
      workers: o.workers,
    });
    const started = await Promise.allSettled(sb.workers.map((w) => w.start()));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await sb.close();
      throw new Error(`python sandbox: a worker failed to start: ${(failed.reason as Error).message}`);
    }
    const hello = sb.workers[0]?.hello;
    if (choice.mode === 'wasm') {
      // What the interpreter is and imports is known once it has booted.
      interpreter.version = typeof hello?.python === 'string' ? hello.python : interpreter.version;
      interpreter.has = Array.isArray(hello?.imports) ? (hello.imports as string[]) : [];
    }
    const missingPreload = o.preload.filter((m) => !interpreter.has.includes(m));
    if (missingPreload.length > 0) {
      warnOnce(
        warn,
        choice.mode === 'wasm'
          ? `python sandbox: ${missingPreload.join(', ')} cannot be imported in WebAssembly (pyodide's npm package brings the standard library only)`
          : `python sandbox: ${interpreter.exe} cannot import ${missingPreload.join(', ')} (install python3-${missingPreload.join(' python3-')} or set interpreter)`,
      );
    }
    const unguarded = choice.mode === 'wasm' ? wasmGuardsMissing(hello) : guardsMissing(hello);
    if (unguarded.length > 0) {
      sb.info.missing.push(...unguarded);
      warnOnce(warn, `python sandbox: guards against programs missing in the workers: ${unguarded.join('; ')}`);
    }
    return sb;
  }

  /**
   * Hands queued jobs to idle workers: a worker first takes the jobs of sessions it holds, then the
   * shared queue. A shared queue (not one per worker) means a program that runs to its timeout
   * delays only itself, never the calls that happened to be queued behind it.
   */
  private pump(): void {
    for (const w of this.workers) {
      if (this.busy.has(w)) continue;
      const job = this.pinned.get(w)?.shift() ?? this.queue.shift();
      if (!job) continue;
      this.busy.add(w);
      const settle = (reply: Record<string, unknown>) => {
        this.busy.delete(w);
        job.done(w, reply);
        this.pump();
      };
      w.request(job.req, job.watchdogMs).then(settle, (e: unknown) =>
        settle({ status: 'sandbox_error', reason: (e as Error).message }),
      );
    }
  }

  private submit(
    req: Record<string, unknown>,
    watchdogMs: number,
    on?: SandboxWorker,
    signal?: AbortSignal,
  ): Promise<{ worker?: SandboxWorker; reply: Record<string, unknown> }> {
    return new Promise((resolve) => {
      const cancelled = { status: 'sandbox_error', reason: 'cancelled before it ran', cancelled: true };
      if (signal?.aborted) {
        resolve({ reply: cancelled });
        return;
      }
      const q = on ? (this.pinned.get(on) ?? []) : this.queue;
      const onAbort = () => {
        const at = q.indexOf(job);
        if (at < 0) return; // already running: it runs to its own limits
        q.splice(at, 1);
        resolve({ reply: cancelled });
      };
      const job: Job = {
        req,
        watchdogMs,
        done: (worker, reply) => {
          signal?.removeEventListener('abort', onAbort);
          resolve({ worker, reply });
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      q.push(job);
      if (on) this.pinned.set(on, q);
      this.pump();
    });
  }

  /**
   * Runs one program. With `session`, variables persist across calls of that session (until
   * `endSession`, a kill, or a worker restart, which the result reports as `sessionLost`).
   * Never rejects: failures of the sandbox itself come back as status 'sandbox_error'.
   */
  async exec(
    code: string,
    opts: { session?: string; stdin?: string; limits?: Partial<RunLimits>; signal?: AbortSignal } = {},
  ): Promise<ExecResult> {
    const t0 = performance.now();
    if (this.closed)
      return {
        status: 'sandbox_error',
        stdout: '',
        stderr: '',
        exitCode: null,
        wallMs: 0,
        reason: 'the sandbox is closed',
      };
    if (typeof code !== 'string' || code.includes('\u0000')) {
      return {
        status: 'error',
        stdout: '',
        stderr: 'SyntaxError: source code cannot contain null bytes\n',
        exitCode: 1,
        wallMs: 0,
      };
    }
    const limits = { ...this.options, ...opts.limits };
    let pinnedTo: SandboxWorker | undefined;
    let lost = false;
    if (opts.session !== undefined) {
      const s = this.sessions.get(opts.session);
      if (s && s.generation === s.worker.generation) pinnedTo = s.worker;
      else if (s) {
        lost = true;
        this.sessions.delete(opts.session);
      }
    }
    // Lone surrogates cannot cross the JSON line protocol as UTF-8: replace them, as Python's decoder would.
    const req = {
      op: 'run',
      code: wellFormed(code),
      ...limitsToRequest(limits),
      ...(opts.session !== undefined ? { session: opts.session } : {}),
      ...(opts.stdin ? { stdin: opts.stdin } : {}),
    };
    // A caller that gave up (the loop's own timeout, an abort) leaves the queue; a running program runs to its limits.
    const { worker, reply } = await this.submit(req, limits.timeoutSeconds * 1000, pinnedTo, opts.signal);
    const r = replyToResult(reply);
    if (opts.session !== undefined) {
      if (pinnedTo && reply.session_new === true) lost = true;
      // Recorded after the call: a restart of the worker from now on (crash, watchdog) bumps its
      // generation, and the session's next call finds it lost. A cancelled call changed nothing.
      if (worker && reply.cancelled !== true) {
        if (r.sessionLost) this.sessions.delete(opts.session);
        else this.sessions.set(opts.session, { worker, generation: worker.generation });
      }
      if (lost) r.sessionLost = true;
    }
    if (r.status === 'sandbox_error') r.wallMs = Math.round(performance.now() - t0);
    return r;
  }

  /** Frees a stateful session's interpreter. Idempotent. */
  async endSession(session: string): Promise<void> {
    const s = this.sessions.get(session);
    if (!s) return;
    this.sessions.delete(session);
    if (s.generation !== s.worker.generation || this.closed) return;
    await this.submit({ op: 'end', session }, 10_000, s.worker);
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Worker process ids (for tests and diagnostics). */
  get pids(): (number | undefined)[] {
    return this.workers.map((w) => w.pid);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sessions.clear();
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
