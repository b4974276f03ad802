import { setMaxListeners } from 'node:events';
import type { Tool, ToolResult } from '../../core/index.js';
import { LatencyWindow } from './metrics.js';
import { formatName, parseObservationFormat, wrapObservation, type ObservationFormat } from './observation-format.js';
import type { ActionItem, ObservationResponse } from './protocol.js';

/** One worker: a full set of tool instances. A trajectory's calls all go to one worker. */
export type ToolSet = readonly Tool[];

export interface DispatcherOptions {
  /** Tool calls running at once, over all workers. */
  maxConcurrency: number;
  /** Each request's budget; actions still running at the deadline answer with a timeout observation. */
  requestTimeoutMs: number;
  /** An action no tool accepts ends its trajectory (VeRL-Tool's `done_if_invalid`). */
  doneIfInvalid: boolean;
  /** Frees a trajectory nobody finished after this long without a call (0: never), so lost clients don't leak state. */
  idleTrajectoryMs: number;
  /** How observations are sent (default 'python_code': VeRL-Tool's python tool); see observation-format.ts. */
  observationFormat?: string;
  /** Per served tool name, a format other than `observationFormat`. */
  toolObservationFormats?: Record<string, string>;
}

type Info = Record<string, string | number | boolean>;
/** `tool`: whose envelope the observation gets; none for the empty answers to finishes and unmatched actions. */
interface ItemResult {
  observation: string;
  done: boolean;
  valid: boolean;
  info: Info;
  tool?: string;
}

/** A FIFO semaphore. The queue is read by index: Array.shift copies large arrays, quadratic over a big request. */
class Semaphore {
  private waiting: (() => void)[] = [];
  private head = 0;
  constructor(private free: number) {}
  get queued(): number {
    return this.waiting.length - this.head;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting[this.head];
    if (!next) {
      this.free++;
      return;
    }
    this.head++;
    if (this.head * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    next();
  }
}

/**
 * Runs the actions of `/get_observation` requests on the served tools. Each trajectory is pinned to
 * one worker (the one with the fewest live trajectories when it first appears) until `finish` or
 * `is_last_step`, and its actions run one after another in arrival order; different trajectories
 * run concurrently up to `maxConcurrency`.
 */
export class ToolDispatcher {
  private readonly home = new Map<string, number>();
  private readonly lastUsed = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout | undefined;
  private readonly live: number[];
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly slots: Semaphore;
  private inFlight = 0;
  private readonly started = Date.now();
  readonly counts = {
    requests: 0,
    badRequests: 0,
    actions: 0,
    finishes: 0,
    expired: 0,
    noToolMatched: 0,
    toolErrors: 0,
    timeouts: 0,
    invalidResults: 0,
  };
  private readonly perTool = new Map<string, number>();
  readonly requestLatency = new LatencyWindow();
  readonly actionLatency = new LatencyWindow();
  private readonly formats = new Map<string, ObservationFormat>();

  constructor(
    readonly workers: readonly ToolSet[],
    private readonly opts: DispatcherOptions,
  ) {
    if (workers.length === 0 || workers.some((w) => w.length === 0))
      throw new Error('tool-server: every worker needs at least one tool');
    const base = parseObservationFormat(opts.observationFormat ?? 'python_code');
    for (const t of workers[0]) this.formats.set(t.name, base);
    for (const [name, spec] of Object.entries(opts.toolObservationFormats ?? {})) {
      if (!this.formats.has(name))
        throw new Error(
          `tool-server: observation format for '${name}', which is not served (tools: ${this.toolNames.join(', ')})`,
        );
      this.formats.set(name, parseObservationFormat(spec));
    }
    this.live = new Array(workers.length).fill(0);
    this.slots = new Semaphore(opts.maxConcurrency);
    if (opts.idleTrajectoryMs > 0) {
      this.sweeper = setInterval(() => void this.sweep(), Math.min(opts.idleTrajectoryMs, 60_000));
      this.sweeper.unref();
    }
  }

  /** Frees trajectories idle for longer than `idleTrajectoryMs` with nothing running; returns their ids. */
  async sweep(now = Date.now()): Promise<string[]> {
    const stale = [...this.lastUsed]
      .filter(([id, t]) => now - t > this.opts.idleTrajectoryMs && !this.chains.has(id))
      .map(([id]) => id);
    this.counts.expired += stale.length;
    // in the trajectory's chain, so a call arriving meanwhile waits for the release
    await Promise.all(stale.map((id) => this.serialize(id, () => this.release(id))));
    return stale;
  }

  get toolNames(): string[] {
    return this.workers[0].map((t) => t.name);
  }

  /** Each served tool's observation format, by name. */
  get observationFormats(): Record<string, string> {
    return Object.fromEntries([...this.formats].map(([k, f]) => [k, formatName(f)]));
  }

  /** Answers one request; never throws (tool failures become observations). */
  async handle(items: ActionItem[]): Promise<ObservationResponse> {
    const t0 = performance.now();
    this.counts.requests++;
    const deadline = AbortSignal.timeout(this.opts.requestTimeoutMs);
    // tools may listen to the deadline (extra.signal); their listeners are released as calls end
    setMaxListeners(0, deadline);
    const results = await this.settleByDeadline(items, deadline);
    const ms = performance.now() - t0;
    this.requestLatency.add(ms);
    return {
      observations: results.map((r, i) => {
        const f = r.tool === undefined ? undefined : this.formats.get(r.tool);
        return f ? wrapObservation(f, items[i].action, r.observation) : r.observation;
      }),
      dones: results.map((r) => r.done),
      valids: results.map((r) => r.valid),
      processing_time_ms: Math.round(ms * 1000) / 1000,
      infos: results.map((r) => r.info),
    };
  }

  /**
   * Every item's result, or a timeout observation for those unfinished at the deadline. One
   * listener serves the whole request: a listener per item made a large request quadratic, as
   * each addEventListener scans the signal's list.
   */
  private settleByDeadline(items: ActionItem[], deadline: AbortSignal): Promise<ItemResult[]> {
    const results: (ItemResult | undefined)[] = new Array(items.length);
    let left = items.length;
    return new Promise<ItemResult[]>((resolve, reject) => {
      let open = true;
      const finish = () => {
        open = false;
        deadline.removeEventListener('abort', onDeadline);
        resolve(Array.from(results, (r, i) => r ?? this.timedOut(items[i])));
      };
      const onDeadline = () => {
        if (open) finish();
      };
      deadline.addEventListener('abort', onDeadline, { once: true });
      // Chained synchronously, so each trajectory's actions keep their array order.
      items.forEach((item, i) => {
        this.serialize(item.trajectoryId, () => this.runItem(item, deadline)).then(
          (r) => {
            if (!open) return;
            results[i] = r;
            if (--left === 0) finish();
          },
          (e: unknown) => {
            if (!open) return;
            open = false;
            deadline.removeEventListener('abort', onDeadline);
            reject(e);
          },
        );
      });
      if (open && (left === 0 || deadline.aborted)) finish();
    });
  }

  private timedOut(item: ActionItem): ItemResult {
    this.counts.timeouts++;
    return {
      observation: `tool error: no result within the server's request timeout (${this.opts.requestTimeoutMs} ms)`,
      done: false,
      valid: false,
      info: { status: 'timeout' },
      tool: this.match(this.workers[0], item.action)?.tool.name,
    };
  }

  /** The first tool that finds an action in `text`, with what it parsed. */
  private match(
    tools: ToolSet,
    text: string,
  ): { tool: Tool; action: string; extra?: Record<string, unknown> } | undefined {
    for (const t of tools) {
      let parsed;
      try {
        parsed = t.parseAction(text);
      } catch {
        continue;
      }
      if (parsed.valid)
        return { tool: t, action: parsed.action ?? '', ...(parsed.extra ? { extra: parsed.extra } : {}) };
    }
    return undefined;
  }

  /** Runs `fn` after everything already queued for trajectory `id`. */
  private serialize<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(id) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.catch(() => undefined);
    this.chains.set(id, tail);
    void tail.then(() => {
      if (this.chains.get(id) === tail) this.chains.delete(id);
    });
    return run;
  }

  private workerOf(id: string): number {
    this.lastUsed.set(id, Date.now());
    let w = this.home.get(id);
    if (w === undefined) {
      const least = Math.min(...this.live);
      w = this.live.indexOf(least);
      this.home.set(id, w);
      this.live[w]++;
    }
    return w;
  }

  private async release(id: string): Promise<void> {
    const w = this.home.get(id);
    this.lastUsed.delete(id);
    if (w === undefined) return;
    this.home.delete(id);
    this.live[w]--;
    // a tool whose finish fails (even synchronously) must not keep the others from freeing
    await Promise.all(
      this.workers[w].map((t) =>
        Promise.resolve()
          .then(() => t.finish(id))
          .catch(() => undefined),
      ),
    );
  }

  private async runItem(item: ActionItem, deadline: AbortSignal): Promise<ItemResult> {
    if (item.finish) {
      this.counts.finishes++;
      await this.release(item.trajectoryId);
      return { observation: '', done: true, valid: true, info: { status: 'finished' } };
    }
    if (deadline.aborted) return { observation: '', done: false, valid: false, info: { status: 'timeout' } };
    const found = this.match(this.workers[this.workerOf(item.trajectoryId)], item.action);
    let result: ItemResult;
    if (!found) {
      this.counts.noToolMatched++;
      result = {
        observation: '',
        done: this.opts.doneIfInvalid,
        valid: false,
        info: { status: 'no_tool', reason: 'no tool found a valid action in the text' },
      };
    } else {
      // What the parser found beside the action (stdin from an ```input block) wins over the request's extra fields, as
      // in VeRL-Tool.
      result = await this.conduct(found.tool, item, found.action, { ...item.extra, ...(found.extra ?? {}) }, deadline);
    }
    // VeRL-Tool frees the state after a last step but keeps the tool's own `done`: the client decides that the
    // trajectory ends.
    if (item.isLastStep) await this.release(item.trajectoryId);
    return result;
  }

  private async conduct(
    tool: Tool,
    item: ActionItem,
    payload: string,
    extra: Record<string, unknown>,
    deadline: AbortSignal,
  ): Promise<ItemResult> {
    await this.slots.acquire();
    this.inFlight++;
    this.counts.actions++;
    this.perTool.set(tool.name, (this.perTool.get(tool.name) ?? 0) + 1);
    const t0 = performance.now();
    try {
      if (deadline.aborted) return { observation: '', done: false, valid: false, info: { status: 'timeout' } };
      const r: ToolResult = await tool.conductAction(item.trajectoryId, payload, { ...extra, signal: deadline });
      if (!r.valid) this.counts.invalidResults++;
      return {
        observation: r.observation,
        done: r.done,
        valid: r.valid,
        info: { tool: tool.name, ...(r.info ?? {}) },
        tool: tool.name,
      };
    } catch (e) {
      // A tool must not throw for model input; if one does, the trajectory gets the message, not the batch.
      this.counts.toolErrors++;
      return {
        observation: `tool error: ${(e as Error).message ?? String(e)}`.slice(0, 2000),
        done: false,
        valid: false,
        info: { tool: tool.name, status: 'tool_error' },
        tool: tool.name,
      };
    } finally {
      this.actionLatency.add(performance.now() - t0);
      this.inFlight--;
      this.slots.release();
    }
  }

  metrics(): Record<string, unknown> {
    return {
      uptimeS: Math.round((Date.now() - this.started) / 1000),
      ...this.counts,
      inFlight: this.inFlight,
      queued: this.slots.queued,
      maxConcurrency: this.opts.maxConcurrency,
      activeTrajectories: this.home.size,
      trajectoriesPerWorker: [...this.live],
      callsPerTool: Object.fromEntries(this.perTool),
      requestLatency: this.requestLatency.summary(),
      actionLatency: this.actionLatency.summary(),
    };
  }

  /** Frees every trajectory still held and stops the idle sweep. */
  async finishAll(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await Promise.all([...this.home.keys()].map((id) => this.release(id)));
  }
}
