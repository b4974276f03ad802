import type { Completion, GenerateOptions, RolloutEngine, SamplingParams, TokenEvent } from '../../core/index.js';
import { generateStreaming } from '../../core/index.js';

interface Pending {
  prompts: number[][];
  params: SamplingParams;
  /**
   * The sampling parameters as a key: only requests with equal ones share a call. The number of
   * alternatives is left out (a call computes the most any of its requests wants; each gets its own).
   */
  key: string;
  signal?: AbortSignal;
  /** A streaming request: told of its rows' tokens as the policy decodes them. */
  onToken?: (e: TokenEvent) => void;
  /** Rows handed to the policy so far; completions of the rows answered so far. */
  sent: number;
  answered: number;
  out: Completion[];
  resolve(c: Completion[]): void;
  reject(e: unknown): void;
}

/** Rows [from, to) of one request, in one policy call. */
interface Part {
  req: Pending;
  from: number;
  to: number;
}

export interface BatcherOptions {
  /** How long the first request of a batch waits for others to join it. */
  windowMs: number;
  /** Most prompt rows per generate call (a larger request is split over several calls). */
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
 * idle, the first request waits `windowMs` for others; every call then takes the request at the
 * head of the queue and, in queue order, the others with the same sampling parameters that fit
 * whole in `maxRows` rows, so requests that arrive while the policy is busy are served together
 * by its next call. A request larger than `maxRows` goes in pieces, filling what room is left,
 * and after each call moves to the back of the queue: a huge request cannot hold the policy for
 * long, and small ones queued behind it wait at most a call or two (round robin). Each caller
 * gets back exactly its own rows, in order.
 */
export class BatchingEngine implements RolloutEngine {
  /** Requests waiting for their turn, in arrival order (new ones join here)... */
  private pending: Pending[] = [];
  /** ...then those served by the last call that still have rows: their next turn comes after. */
  private served: Pending[] = [];
  private worker: Promise<void> | undefined;
  /** The policy call in progress (settled when idle). */
  private current: Promise<void> = Promise.resolve();
  /** Set while an exclusive task (a weight reload) holds the policy. */
  private gate: Promise<void> | undefined;
  private readonly counters: BatcherStats = { calls: 0, rows: 0, requests: 0, largestCall: 0 };

  constructor(
    private readonly inner: RolloutEngine,
    private readonly opts: BatcherOptions,
  ) {}

  get tokenizer() {
    return this.inner.tokenizer;
  }

  get maxTopLogprobs(): number {
    return this.inner.maxTopLogprobs ?? 0;
  }

  generate(prompts: number[][], params: SamplingParams, opts: GenerateOptions = {}): Promise<Completion[]> {
    return this.enqueue(prompts, params, opts);
  }

  /** Streams when the policy can (else its tokens come when its call is done); batching is unchanged. */
  generateStream(
    prompts: number[][],
    params: SamplingParams,
    onToken: (e: TokenEvent) => void,
    opts: GenerateOptions = {},
  ): Promise<Completion[]> {
    return this.enqueue(prompts, params, opts, onToken);
  }

  private enqueue(
    prompts: number[][],
    params: SamplingParams,
    opts: GenerateOptions,
    onToken?: (e: TokenEvent) => void,
  ): Promise<Completion[]> {
    if (prompts.length === 0) return Promise.resolve([]);
    if (opts.signal?.aborted) return Promise.reject(abortError());
    return new Promise<Completion[]>((resolve, reject) => {
      const { topLogprobs: _k, ...shared } = params;
      const key = JSON.stringify(shared, Object.keys(shared).sort());
      this.pending.push({
        prompts,
        params,
        key,
        signal: opts.signal,
        ...(onToken ? { onToken } : {}),
        sent: 0,
        answered: 0,
        out: new Array(prompts.length),
        resolve,
        reject,
      });
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
    return [...this.pending, ...this.served].reduce((s, p) => s + p.prompts.length - p.sent, 0);
  }

  private async drain(): Promise<void> {
    try {
      if (this.opts.windowMs > 0 && this.rowsPending() < this.opts.maxRows) {
        await new Promise((r) => setTimeout(r, this.opts.windowMs));
      }
      while (this.pending.length + this.served.length > 0) {
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

  /** The head request's rows and, in queue order, those of later requests with its parameters that fit. */
  private takeCall(): Part[] {
    const queue = [...this.pending, ...this.served].filter((p) => {
      if (!p.signal?.aborted) return true;
      p.reject(abortError());
      return false;
    });
    if (queue.length === 0) {
      this.pending = this.served = [];
      return [];
    }
    const key = (queue[0] as Pending).key;
    const max = this.opts.maxRows;
    const parts: Part[] = [];
    let rows = 0;
    for (const req of queue) {
      if (rows >= max) break;
      const left = req.prompts.length - req.sent;
      // A request that fits in a call waits for one with room for all of it; a larger one fills the room.
      if (req.key !== key || (left <= max && rows + left > max)) continue;
      const take = Math.min(left, max - rows);
      parts.push({ req, from: req.sent, to: req.sent + take });
      req.sent += take;
      rows += take;
    }
    // Served requests with rows left go behind everyone else, requests arriving meanwhile included.
    const served = new Set(parts.map((x) => x.req));
    this.pending = queue.filter((p) => !served.has(p));
    this.served = parts.map((x) => x.req).filter((p) => p.sent < p.prompts.length);
    return parts;
  }

  private async run(parts: Part[]): Promise<void> {
    if (parts.length === 0) return;
    const reqs = parts.map((x) => x.req);
    const params = this.callParams(parts);
    const prompts = parts.flatMap((x) => x.req.prompts.slice(x.from, x.to));
    // The shared call is cancelled only when every caller in it has gone away.
    const ctl = new AbortController();
    const onAbort = () => {
      if (reqs.every((p) => p.signal?.aborted)) ctl.abort();
    };
    for (const p of reqs) p.signal?.addEventListener('abort', onAbort, { once: true });
    this.counters.calls++;
    this.counters.rows += prompts.length;
    this.counters.largestCall = Math.max(this.counters.largestCall, prompts.length);
    try {
      const streaming = parts.some((x) => x.req.onToken);
      const out = streaming
        ? await generateStreaming(this.inner, prompts, params, this.router(parts), { signal: ctl.signal })
        : await this.inner.generate(prompts, params, { signal: ctl.signal });
      if (out.length !== prompts.length)
        throw new Error(`the policy returned ${out.length} completions for ${prompts.length} prompts`);
      let at = 0;
      for (const { req, from, to } of parts) {
        for (let i = from; i < to; i++) req.out[i] = ownAlternatives(out[at++] as Completion, req.params.topLogprobs);
        req.answered += to - from;
        if (req.answered === req.prompts.length) req.resolve(req.out);
      }
    } catch (e) {
      // A failed request's rows still queued are dropped with it.
      const failed = new Set(reqs);
      this.pending = this.pending.filter((p) => !failed.has(p));
      this.served = this.served.filter((p) => !failed.has(p));
      for (const p of reqs) p.reject(e);
    } finally {
      for (const p of reqs) p.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Hands each token of a shared call to the request that owns its row, under that request's row index. */
  private router(parts: Part[]): (e: TokenEvent) => void {
    const owner: { req: Pending; row: number }[] = [];
    for (const { req, from, to } of parts) for (let i = from; i < to; i++) owner.push({ req, row: i });
    return (e) => {
      const o = owner[e.row];
      if (!o?.req.onToken || o.req.signal?.aborted) return;
      const k = o.req.params.topLogprobs;
      const { topLogProbs, ...rest } = e;
      try {
        o.req.onToken({ ...rest, row: o.row, ...(k && topLogProbs ? { topLogProbs: topLogProbs.slice(0, k) } : {}) });
      } catch {
        // One listener's failure must not end a call other requests share; its answer still comes.
      }
    };
  }

  /**
   * The call's sampling parameters: a fresh seed for requests that give none. A seeded request
   * split over calls would repeat its first call's rows with the same seed, so a call that
   * continues one gets the seed plus the call number (unique per call, hence never the same twice).
   */
  private callParams(parts: Part[]): SamplingParams {
    const { topLogprobs: _k, ...first } = (parts[0] as Part).req.params;
    const k = Math.max(0, ...parts.map((x) => x.req.params.topLogprobs ?? 0));
    const base: SamplingParams = k > 0 ? { ...first, topLogprobs: k } : first;
    if (base.seed === undefined) return this.opts.randomSeed ? { ...base, seed: this.opts.randomSeed() } : base;
    return parts.some((x) => x.from > 0) ? { ...base, seed: base.seed + this.counters.calls } : base;
  }
}

/** A completion with the alternatives its own request asked for (the call may have computed more). */
function ownAlternatives(c: Completion, k: number | undefined): Completion {
  if (!c.topLogProbs) return c;
  const { topLogProbs, ...rest } = c;
  return k ? { ...rest, topLogProbs: topLogProbs.map((t) => t.slice(0, k)) } : rest;
}

function abortError(): Error {
  const e = new Error('the request was cancelled');
  e.name = 'AbortError';
  return e;
}
