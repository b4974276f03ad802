import type { Worker } from 'node:worker_threads';
import { startWorkerBeside } from '../shared/worker.js';
import type { CompareOptions } from './compare.js';
import type { CompareReply, CompareRequest } from './worker.js';

/** How one pooled comparison ended. */
export interface PoolResult {
  result: boolean;
  timedOut: boolean;
  error?: string;
}

interface Job {
  id: number;
  gold: string;
  pred: string;
  resolve(r: PoolResult): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job?: Job;
  timer?: NodeJS.Timeout;
}

/**
 * A fixed set of reused worker threads running comparisons. A comparison that runs past the
 * timeout is a non-match: its worker is terminated and replaced, so a pathological input never
 * blocks the caller or the other jobs for longer than the timeout.
 */
export class ComparePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 0;
  private closed = false;
  /** Set when workers keep failing to start: every call then rejects with it. */
  private broken: Error | null = null;
  private startFailures = 0;
  /** Comparisons stopped by the timeout since the pool started (for logs and tests). */
  timeouts = 0;

  constructor(
    size: number,
    private readonly timeoutMs: number,
    private readonly options: CompareOptions,
    private readonly symbolic: boolean,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  compare(gold: string, pred: string): Promise<PoolResult> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new Error('math verifier: used after dispose()'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, gold, pred, resolve, reject });
      this.pump();
    });
  }

  /** Resolves once every worker has loaded (the first comparison then pays no start-up). */
  async ready(): Promise<void> {
    while (!this.closed && this.slots.some((s) => !s.ready)) await new Promise((r) => setTimeout(r, 10));
    if (this.broken) throw this.broken;
  }

  async dispose(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.resolve({ result: false, timedOut: false, error: 'disposed' });
    // a terminating worker no longer holds the event loop: without this timer the process can end
    // (exit code 13, unsettled await) before terminate() settles
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      await Promise.all(
        this.slots.map(async (s) => {
          clearTimeout(s.timer);
          s.job?.resolve({ result: false, timedOut: false, error: 'disposed' });
          s.worker.removeAllListeners();
          await s.worker.terminate();
        }),
      );
    } finally {
      clearInterval(keepAlive);
    }
    this.slots.length = 0;
  }

  private spawn(): Slot {
    const worker = startWorkerBeside(import.meta.url, 'worker');
    // idle workers must not keep the process alive (see hold())
    worker.unref();
    const slot: Slot = { worker, ready: false };
    worker.on('message', (m: CompareReply) => {
      if ('ready' in m) {
        slot.ready = true;
        this.startFailures = 0;
        this.pump();
        return;
      }
      const job = slot.job;
      if (!job || job.id !== m.id) return;
      clearTimeout(slot.timer);
      slot.job = undefined;
      job.resolve({ result: m.result, timedOut: false, ...(m.error ? { error: m.error } : {}) });
      this.pump();
    });
    worker.on('error', (e) => this.replace(slot, { result: false, timedOut: false, error: e.message }));
    worker.on('exit', () => this.replace(slot, { result: false, timedOut: false, error: 'worker exited' }));
    return slot;
  }

  /** Fails the slot's job (if any) and puts a fresh worker in its place. */
  private replace(slot: Slot, outcome: PoolResult): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    clearTimeout(slot.timer);
    const job = slot.job;
    slot.job = undefined;
    slot.worker.removeAllListeners();
    void slot.worker.terminate();
    if (!slot.ready && ++this.startFailures >= 3) {
      this.broken = new Error(`math verifier: worker threads fail to start (${outcome.error ?? 'unknown'})`);
      this.closed = true;
      for (const j of this.queue.splice(0)) j.reject(this.broken);
    }
    if (this.closed) {
      this.slots.splice(i, 1);
      job?.resolve(outcome);
      return;
    }
    this.slots[i] = this.spawn();
    job?.resolve(outcome);
    this.pump();
  }

  /** A worker keeps the process alive only while it runs a job or starts with jobs waiting. */
  private hold(): void {
    for (const s of this.slots) {
      if (s.job || (!s.ready && this.queue.length)) s.worker.ref();
      else s.worker.unref();
    }
  }

  private pump(): void {
    try {
      this.dispatch();
    } finally {
      this.hold();
    }
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!this.queue.length) return;
      if (!slot.ready || slot.job) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.timer = setTimeout(() => {
        this.timeouts++;
        this.replace(slot, { result: false, timedOut: true });
      }, this.timeoutMs);
      const req: CompareRequest = {
        id: job.id,
        gold: job.gold,
        pred: job.pred,
        options: this.options,
        symbolic: this.symbolic,
      };
      slot.worker.postMessage(req);
    }
  }
}
