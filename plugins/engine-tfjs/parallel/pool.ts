import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { startWorkerBeside } from '../../shared/worker.js';
import type { EventsMessage, Envelope, Reply, Request, SyncMessage, SyncReply, WorkerBoot } from './protocol.js';

function spawn(boot: WorkerBoot): Worker {
  return startWorkerBeside(import.meta.url, 'worker', { workerData: boot, transferList: [boot.port] });
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  /** A streaming request's progress messages. */
  onEvents?: (m: EventsMessage) => void;
}

interface Slot {
  worker: Worker;
  /** Main's end of the side channel. */
  port: MessagePort;
  pending: Map<number, Pending>;
  /** Side-channel messages not yet taken, and takers waiting for one. */
  inbox: SyncMessage[];
  takers: { res: (m: SyncMessage) => void; rej: (e: Error) => void }[];
}

/**
 * Worker threads that each hold a copy of the models of every ParallelTfjsPolicy sharing the pool
 * (one pool per worker count per process, so policies, their snapshots and the bench pay the
 * start-up once). Idle workers do not keep the process alive, and outlive their last user.
 */
export class WorkerPool {
  private static pools = new Map<number, WorkerPool>();
  private readonly slots: Slot[];
  private readonly signal: Int32Array;
  private nextId = 1;
  private users = 0;
  private inFlight = 0;
  private turn: Promise<void> = Promise.resolve();
  private dead?: Error;

  private constructor(readonly size: number) {
    const sab = new SharedArrayBuffer(4 * size);
    this.signal = new Int32Array(sab);
    this.slots = Array.from({ length: size }, (_, index) => {
      const { port1, port2 } = new MessageChannel();
      const worker = spawn({ index, port: port2, signal: sab });
      const slot: Slot = { worker, port: port1, pending: new Map(), inbox: [], takers: [] };
      worker.on('message', (r: Reply | EventsMessage) => {
        if ('events' in r) slot.pending.get(r.id)?.onEvents?.(r);
        else this.settle(slot, r);
      });
      worker.on('error', (e) => this.fail(new Error(`tfjs worker ${index} crashed: ${e.message}`)));
      worker.on('exit', (code) => this.fail(new Error(`tfjs worker ${index} exited (code ${code})`)));
      port1.on('message', (m: SyncMessage) => {
        const take = slot.takers.shift();
        if (take) take.res(m);
        else slot.inbox.push(m);
      });
      worker.unref();
      port1.unref();
      return slot;
    });
  }

  /** The process-wide pool of `size` workers; each user must call release() once. */
  static acquire(size: number): WorkerPool {
    let p = WorkerPool.pools.get(size);
    if (!p || p.dead) {
      p = new WorkerPool(size);
      WorkerPool.pools.set(size, p);
    }
    p.users += 1;
    return p;
  }

  /**
   * One user fewer. The workers stay (idle, not keeping the process alive) for the next policy:
   * starting a thread and its wasm backend again costs more than the idle heap does.
   */
  release(): void {
    this.users = Math.max(0, this.users - 1);
  }

  /** Runs `fn` after every earlier exclusive call has settled (training steps share the side channel). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Sends one request to worker `w`; resolves with its result. `onEvents` hears its progress messages. */
  request<T>(w: number, req: Request, transfer: ArrayBuffer[] = [], onEvents?: (m: EventsMessage) => void): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const slot = this.slots[w] as Slot;
    const id = this.nextId++;
    // While a request is out the workers must keep the process alive (the caller awaits them).
    if (this.inFlight++ === 0) for (const s of this.slots) s.worker.ref();
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, ...(onEvents ? { onEvents } : {}) });
      slot.worker.postMessage({ ...req, id } satisfies Envelope, transfer);
    });
  }

  /** Asks every worker and returns their results in worker order. */
  all<T>(make: (w: number) => Request): Promise<T[]> {
    return Promise.all(this.slots.map((_, w) => this.request<T>(w, make(w))));
  }

  /** The id the next request() will get (an abort names the request it cancels). */
  peekId(): number {
    return this.nextId;
  }

  /** The next side-channel message from worker `w` for step `seq` (older steps' leftovers are dropped). */
  async take(w: number, seq: number): Promise<SyncMessage> {
    const slot = this.slots[w] as Slot;
    for (;;) {
      const m =
        slot.inbox.shift() ??
        (await new Promise<SyncMessage>((res, rej) => {
          if (this.dead) {
            rej(this.dead);
            return;
          }
          slot.takers.push({ res, rej });
        }));
      if (m.seq === seq) return m;
    }
  }

  /** Wakes worker `w`, blocked in a training step, with `reply` (or bare, to go on). */
  answer(w: number, reply?: SyncReply, transfer: ArrayBuffer[] = []): void {
    if (reply) (this.slots[w] as Slot).port.postMessage(reply, transfer);
    Atomics.store(this.signal, w, 1);
    Atomics.notify(this.signal, w);
  }

  private settle(slot: Slot, r: Reply): void {
    const p = slot.pending.get(r.id);
    if (!p) return;
    slot.pending.delete(r.id);
    if (--this.inFlight === 0) for (const s of this.slots) s.worker.unref();
    if (r.ok) {
      p.resolve(r.result);
      return;
    }
    // The worker's message stays the message (callers show it); its stack stays a stack.
    const e = new Error(r.error);
    if (r.stack) e.stack = r.stack;
    p.reject(e);
  }

  private fail(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    if (WorkerPool.pools.get(this.size) === this) WorkerPool.pools.delete(this.size);
    for (const s of this.slots) {
      for (const p of s.pending.values()) p.reject(e);
      s.pending.clear();
      for (const t of s.takers.splice(0)) t.rej(e);
      void s.worker.terminate();
    }
  }
}
