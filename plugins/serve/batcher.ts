import type { Completion, GenerateOptions, RolloutEngine, SamplingParams } from '../../core/index.js';

interface Pending {
  prompts: number[][];
  params: SamplingParams;
  signal?: AbortSignal;
  resolve(c: Completion[]): void;
  reject(e: unknown): void;
}

export interface BatcherOptions {
  /** How long the first request of a batch waits for others to join it. */
  windowMs: number;
  /** Most prompt rows per generate call (a single larger request goes alone). */
  maxRows: number;
  /** Seed for requests that give none (an in-process policy would otherwise repeat itself). */
  randomSeed?: () => number;
}

export interface BatcherStats {
  calls: number;
  rows: number;
  requests: number;
  largestCall: number;
}

/**
 * A RolloutEngine in front of one in-process policy. One worker drives the policy: when it is
 * idle, the first request waits `windowMs` for others; every call then takes the oldest waiting
 * request and all others with the same sampling parameters (up to `maxRows` rows), so requests
 * that arrive while the policy is busy are served together by its next call. Each caller gets
 * back exactly its own rows, in order.
 */
export class BatchingEngine implements RolloutEngine {
  private pending: (Pending & { key: string })[] = [];
  private worker: Promise<void> | undefined;
  /** The policy call in progress (settled when idle). */
  private current: Promise<void> = Promise.resolve();
  /** Set while an exclusive task (a weight reload) holds the policy. */
  private gate: Promise<void> | undefined;
  private readonly counters: BatcherStats = { calls: 0, rows: 0, requests: 0, largestCall: 0 };

  constructor(private readonly inner: RolloutEngine, private readonly opts: BatcherOptions) {}

  get tokenizer() {
    return this.inner.tokenizer;
  }

  generate(prompts: number[][], params: SamplingParams, opts: GenerateOptions = {}): Promise<Completion[]> {
    if (prompts.length === 0) return Promise.resolve([]);
    if (opts.signal?.aborted) return Promise.reject(abortError());
    return new Promise<Completion[]>((resolve, reject) => {
      const key = JSON.stringify(params, Object.keys(params).sort());
      this.pending.push({ prompts, params, signal: opts.signal, resolve, reject, key });
      this.counters.requests++;
      this.worker ??= this.drain();
    });
  }

  stats(): BatcherStats {
    return { ...this.counters };
  }

  /**
   * Runs `task` with the policy to itself: after the call in progress, before any new one
   * (requests keep queueing meanwhile). Used to swap weights under a live server.
   */
  async exclusive<T>(task: () => Promise<T>): Promise<T> {
    while (this.gate) await this.gate;
    let open = () => {};
    this.gate = new Promise<void>((r) => {
      open = r;
    });
    try {
      await this.current;
      return await task();
    } finally {
      this.gate = undefined;
      open();
    }
  }

  private rowsPending(): number {
    return this.pending.reduce((s, p) => s + p.prompts.length, 0);
  }

  private async drain(): Promise<void> {
    try {
      if (this.opts.windowMs > 0 && this.rowsPending() < this.opts.maxRows) {
        await new Promise((r) => setTimeout(r, this.opts.windowMs));
      }
      while (this.pending.length > 0) {
        if (this.gate) {
          await this.gate;
          continue;
        }
        this.current = this.run(this.takeCall());
        await this.current;
      }
    } finally {
      // In the same tick as the emptiness check: a request queued after it starts a new worker.
      this.worker = undefined;
    }
  }

  /** The oldest request and, after it, every waiting request with its parameters that still fits. */
  private takeCall(): Pending[] {
    const key = (this.pending[0] as { key: string }).key;
    const call: Pending[] = [];
    let rows = 0;
    this.pending = this.pending.filter((p) => {
      if (p.key !== key || (call.length > 0 && rows + p.prompts.length > this.opts.maxRows)) return true;
      call.push(p);
      rows += p.prompts.length;
      return false;
    });
    return call;
  }

  private async run(group: Pending[]): Promise<void> {
    const live = group.filter((p) => {
      if (!p.signal?.aborted) return true;
      p.reject(abortError());
      return false;
    });
    if (live.length === 0) return;
    const first = live[0] as Pending;
    const params = first.params.seed === undefined && this.opts.randomSeed ? { ...first.params, seed: this.opts.randomSeed() } : first.params;
    const prompts = live.flatMap((p) => p.prompts);
    // The shared call is cancelled only when every caller in it has gone away.
    const ctl = new AbortController();
    const onAbort = () => {
      if (live.every((p) => p.signal?.aborted)) ctl.abort();
    };
    for (const p of live) p.signal?.addEventListener('abort', onAbort, { once: true });
    this.counters.calls++;
    this.counters.rows += prompts.length;
    this.counters.largestCall = Math.max(this.counters.largestCall, prompts.length);
    try {
      const out = await this.inner.generate(prompts, params, { signal: ctl.signal });
      if (out.length !== prompts.length) throw new Error(`the policy returned ${out.length} completions for ${prompts.length} prompts`);
      let at = 0;
      for (const p of live) {
        p.resolve(out.slice(at, at + p.prompts.length));
        at += p.prompts.length;
      }
    } catch (e) {
      for (const p of live) p.reject(e);
    } finally {
      for (const p of live) p.signal?.removeEventListener('abort', onAbort);
    }
  }
}

function abortError(): Error {
  const e = new Error('the request was cancelled');
  e.name = 'AbortError';
  return e;
}
