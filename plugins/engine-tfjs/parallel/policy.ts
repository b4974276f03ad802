import type {
  Completion,
  GenerateOptions,
  LossOutput,
  Policy,
  PolicyForward,
  SamplingParams,
  TokenBatch,
  TokenEvent,
  Tokenizer,
  TrainStepOptions,
  TrainStepStats,
} from '../../../core/index.js';
import { lossGradients } from '../../../core/train/index.js';
import { callSeed } from '../generate/generate.js';
import { MAX_TOP_LOGPROBS, type TfjsPolicyOptions } from '../policy.js';
import { microBatches, rowsPerMicroBatch } from '../train/logprobs.js';
import { WorkerPool } from './pool.js';
import type { EventsMessage, InitResult, PolicyFactorySpec, SyncMessage, TrainResult } from './protocol.js';

/** What the main thread needs to split work the way TfjsPolicy would do it alone. */
export type ParallelPolicyOptions = Pick<TfjsPolicyOptions, 'microBatchSize' | 'maxMicroBatchTokens' | 'seed'>;

/** `n` items cut into `parts` contiguous runs, as even as possible: [start, end) per part. */
export function splitEven(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const len = Math.floor(n / parts) + (p < n % parts ? 1 : 0);
    out.push([start, start + len]);
    start += len;
  }
  return out;
}

let modelIds = 0;
let stepSeq = 0;

/**
 * The tfjs policy spread over worker threads (data parallel): every worker holds a copy of the
 * weights and computes its share of each batch; the main thread only splits, gathers and runs the
 * loss function. Same contract and, up to float summation order, same numbers as one TfjsPolicy:
 * micro-batches, loss calls and sampling streams are those of the single-thread engine.
 */
export class ParallelTfjsPolicy implements Policy {
  readonly maxTopLogprobs = MAX_TOP_LOGPROBS;
  private calls = 0;
  private gradBuf?: SharedArrayBuffer;
  private disposed = false;

  private constructor(
    private readonly pool: WorkerPool,
    private readonly id: string,
    readonly tokenizer: Tokenizer,
    readonly options: ParallelPolicyOptions,
    private info: InitResult,
    private readonly frozen: boolean,
  ) {}

  /** Starts (or joins) the pool of `workers` threads and builds the model in each. */
  static async create(
    workers: number,
    tokenizer: Tokenizer,
    factory: PolicyFactorySpec,
    options: ParallelPolicyOptions,
  ): Promise<ParallelTfjsPolicy> {
    const pool = WorkerPool.acquire(workers);
    const id = `m${modelIds++}`;
    try {
      const infos = await pool.all<InitResult>(() => ({ type: 'init', model: id, factory }));
      const prints = new Set(infos.map((i) => i.fingerprint));
      if (prints.size > 1)
        throw new Error(
          `tfjs workers built different weights from the same factory (${[...prints].join(', ')}): the factory must be deterministic`,
        );
      return new ParallelTfjsPolicy(pool, id, tokenizer, options, infos[0] as InitResult, false);
    } catch (e) {
      await pool.all(() => ({ type: 'dispose', model: id })).catch(() => undefined);
      pool.release();
      throw e;
    }
  }

  get workers(): number {
    return this.pool.size;
  }

  describe(): Record<string, unknown> {
    return { ...this.info.describe, workers: this.pool.size, frozen: this.frozen };
  }

  async generate(prompts: number[][], params: SamplingParams, opts?: GenerateOptions): Promise<Completion[]> {
    return this.decodeBatch(prompts, params, opts);
  }

  /** Each worker posts its rows' tokens once per decoding step; they reach `onToken` as they arrive. */
  async generateStream(
    prompts: number[][],
    params: SamplingParams,
    onToken: (e: TokenEvent) => void,
    opts?: GenerateOptions,
  ): Promise<Completion[]> {
    return this.decodeBatch(prompts, params, opts, onToken);
  }

  private async decodeBatch(
    prompts: number[][],
    params: SamplingParams,
    opts?: GenerateOptions,
    onToken?: (e: TokenEvent) => void,
  ): Promise<Completion[]> {
    if (params.seed === undefined) this.calls += 1;
    const seed = callSeed(this.options.seed, this.calls);
    const parts = splitEven(prompts.length, this.pool.size).filter(([a, b]) => b > a);
    const ids: number[] = [];
    const onAbort = (): void => {
      parts.forEach(
        (_, w) => void this.pool.request(w, { type: 'abort', target: ids[w] as number }).catch(() => undefined),
      );
    };
    opts?.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const results = await Promise.all(
        parts.map(([a, b], w) => {
          ids[w] = this.pool.peekId();
          const events = onToken
            ? (m: EventsMessage) => {
                for (const e of m.events) onToken({ ...e, row: e.row + a });
              }
            : undefined;
          return this.pool.request<Completion[]>(
            w,
            {
              type: 'generate',
              model: this.id,
              prompts: prompts.slice(a, b),
              params,
              seed,
              rowOffset: a,
              ...(opts?.sampleKeys ? { sampleKeys: opts.sampleKeys.slice(a, b) } : {}),
              ...(onToken ? { stream: true } : {}),
            },
            [],
            events,
          );
        }),
      );
      if (opts?.signal?.aborted) onAbort();
      return results.flat();
    } finally {
      opts?.signal?.removeEventListener('abort', onAbort);
    }
  }

  async computeLogProbs(batch: TokenBatch, opts?: { microBatchSize?: number }): Promise<Float32Array[]> {
    const size = this.rowsPerMicroBatch(batch, opts?.microBatchSize, 4);
    const parts = splitEven(batch.inputIds.length, this.pool.size).filter(([a, b]) => b > a);
    const results = await Promise.all(
      parts.map(([a, b], w) =>
        this.pool.request<Float32Array[]>(w, {
          type: 'logprobs',
          model: this.id,
          microBatchSize: size,
          batch: { inputIds: batch.inputIds.slice(a, b), attentionMask: batch.attentionMask.slice(a, b) },
        }),
      ),
    );
    return results.flat();
  }

  /** As TfjsPolicy.rowsPerMicroBatch: the asked rows, lowered so rows × T stays within the token budget. */
  rowsPerMicroBatch(batch: TokenBatch, asked: number | undefined, budgetScale: number): number {
    return rowsPerMicroBatch(batch, asked, this.options.microBatchSize, this.options.maxMicroBatchTokens, budgetScale);
  }

  async trainStep(
    batch: TokenBatch,
    lossFn: (fwd: PolicyForward) => LossOutput,
    opts?: TrainStepOptions,
  ): Promise<TrainStepStats> {
    if (this.frozen) throw new Error('trainStep on a frozen snapshot');
    // The side channel carries one step at a time (policies sharing the pool take turns).
    return this.pool.exclusive(() => this.step(batch, lossFn, opts));
  }

  private async step(
    batch: TokenBatch,
    lossFn: (fwd: PolicyForward) => LossOutput,
    opts?: TrainStepOptions,
  ): Promise<TrainStepStats> {
    const B = batch.inputIds.length;
    if (B === 0) throw new Error('trainStep: empty batch');
    const T = batch.inputIds[0]?.length ?? 0;
    const W = this.pool.size;
    const mbs = microBatches(B, this.rowsPerMicroBatch(batch, opts?.microBatchSize, 1));
    // Each micro-batch is cut across the workers; the loss still sees it whole.
    const cuts = mbs.map((rows) => splitEven(rows.length, W).map(([a, b]) => (b > a ? rows.slice(a, b) : null)));
    const seq = ++stepSeq;
    const needEntropy = opts?.needEntropy ?? false;
    const grads = this.gradBuffer();
    const replies = Array.from({ length: W }, (_, w) =>
      this.pool.request<TrainResult>(w, {
        type: 'train',
        model: this.id,
        seq,
        batch,
        needEntropy,
        grads,
        parts: cuts.map((c) => c[w] ?? null),
        ...(opts?.lr !== undefined ? { lr: opts.lr } : {}),
      }),
    );
    // A worker that fails ends its request early: stop waiting for its side-channel messages then.
    const failed = Promise.race(replies.map((r) => r.then(() => new Promise<never>(() => undefined))));
    failed.catch(() => undefined);
    const take = (w: number): Promise<SyncMessage> => Promise.race([this.pool.take(w, seq), failed]);
    let loss = 0;
    const metricSums: Record<string, number> = {};
    try {
      for (let k = 0; k < mbs.length; k++) {
        const rows = mbs[k] as number[];
        const share = rows.length / B;
        const involved = cuts[k]!.map((c, w) => (c ? w : -1)).filter((w) => w >= 0);
        const msgs = await Promise.all(involved.map((w) => take(w)));
        const lpAll = new Float32Array(rows.length * T);
        const entAll = needEntropy ? new Float32Array(rows.length * T) : undefined;
        let at = 0;
        for (const m of msgs) {
          if (m.kind !== 'lp' || m.mb !== k)
            throw new Error(`tfjs worker out of step: expected log-probs of micro-batch ${k}, got ${m.kind}`);
          lpAll.set(m.lp, at);
          if (entAll && m.ent) entAll.set(m.ent, at);
          at += m.lp.length;
        }
        const { value, dlp, dent, metrics } = lossGradients(lpAll, entAll, rows, T, share, lossFn);
        loss += value;
        for (const [name, x] of Object.entries(metrics)) metricSums[name] = (metricSums[name] ?? 0) + x * share;
        at = 0;
        involved.forEach((w) => {
          const n = cuts[k]![w]!.length * T;
          const mine = dlp.slice(at, at + n);
          const mineEnt = dent?.slice(at, at + n);
          this.pool.answer(
            w,
            { dlp: mine, ...(mineEnt ? { dent: mineEnt } : {}) },
            mineEnt ? [mine.buffer, mineEnt.buffer] : [mine.buffer],
          );
          at += n;
        });
      }
      await Promise.all(Array.from({ length: W }, (_, w) => take(w)));
      for (let w = 0; w < W; w++) this.pool.answer(w);
    } catch (e) {
      // Workers blocked in the tape (or about to block) must hear that the step is over.
      for (let w = 0; w < W; w++) this.pool.answer(w, { abort: e instanceof Error ? e.message : String(e) });
      await Promise.allSettled(replies);
      throw e;
    }
    const results = await Promise.all(replies);
    const r0 = results[0] as TrainResult;
    this.info = { ...this.info, describe: { ...this.info.describe, step: r0.step } };
    let tokens = 0;
    for (const m of batch.attentionMask) for (const x of m) tokens += x > 0 ? 1 : 0;
    return { loss, gradNorm: r0.gradNorm, lr: r0.lr, step: r0.step, tokens, metrics: metricSums };
  }

  /** Shared memory for the gradient all-reduce: one slot of every weight per worker, plus flags. */
  private gradBuffer(): SharedArrayBuffer {
    if (!this.gradBuf) {
      this.gradBuf = new SharedArrayBuffer(4 * this.pool.size * (this.info.weightValues + this.info.paramTensors));
    }
    return this.gradBuf;
  }

  /** tf.memory().numTensors in each worker (leak checks). */
  async workerTensors(): Promise<number[]> {
    return this.pool.all<number>(() => ({ type: 'memory' }));
  }

  async snapshot(): Promise<Policy> {
    const target = `m${modelIds++}`;
    await this.pool.all(() => ({ type: 'snapshot', model: this.id, target }));
    const pool = WorkerPool.acquire(this.pool.size);
    if (pool !== this.pool) throw new Error('snapshot: the worker pool was replaced');
    return new ParallelTfjsPolicy(pool, target, this.tokenizer, this.options, this.info, true);
  }

  async save(dir: string): Promise<void> {
    await this.pool.request(0, { type: 'save', model: this.id, dir });
  }

  async load(dir: string): Promise<void> {
    const prints = await this.pool.all<string | null>(() => ({ type: 'load', model: this.id, dir }));
    if (new Set(prints).size > 1) throw new Error(`load(${dir}): workers hold different weights afterwards`);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      await this.pool.all(() => ({ type: 'dispose', model: this.id }));
    } finally {
      this.pool.release();
    }
  }
}
