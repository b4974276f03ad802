import type { Completion, SamplingParams, TokenBatch, TokenEvent } from '../../../core/index.js';

/**
 * How a worker builds its TfjsPolicy: a module (file URL) exporting an async factory, called with
 * `args` (structured-cloneable). Every worker calls it with the same args and must get the same
 * weights (the pool checks a fingerprint).
 */
export interface PolicyFactorySpec {
  module: string;
  export: string;
  args: unknown;
}

/** What `workerData` carries: the side channel used while a training step is in flight. */
export interface WorkerBoot {
  index: number;
  /** Main → worker replies during a train step (read with receiveMessageOnPort while blocked). */
  port: import('node:worker_threads').MessagePort;
  /** Int32 per worker: main sets 1 after posting a reply on `port`; the worker waits on it. */
  signal: SharedArrayBuffer;
}

export type Request =
  | { type: 'init'; model: string; factory: PolicyFactorySpec }
  | {
      type: 'generate';
      model: string;
      prompts: number[][];
      params: SamplingParams;
      seed: number;
      rowOffset: number;
      sampleKeys?: string[];
      /** Post each step's tokens (an EventsMessage) while decoding. */
      stream?: boolean;
    }
  | { type: 'abort'; target: number }
  | { type: 'logprobs'; model: string; batch: TokenBatch; microBatchSize: number }
  | {
      type: 'train';
      model: string;
      /** Identifies this step's side-channel messages (stale ones from a failed step are dropped). */
      seq: number;
      batch: TokenBatch;
      /** Per micro-batch: the rows (indices into `batch`) this worker computes, or null. */
      parts: (number[] | null)[];
      needEntropy: boolean;
      lr?: number;
      /** [workers × weightValues] float32 gradients, then [workers × paramTensors] int32 "has a gradient" flags. */
      grads: SharedArrayBuffer;
    }
  | { type: 'snapshot'; model: string; target: string }
  | { type: 'save'; model: string; dir: string }
  | { type: 'load'; model: string; dir: string }
  | { type: 'dispose'; model: string }
  | { type: 'memory' };

export type Envelope = Request & { id: number };

/** `error` is the worker's message alone; `stack` its stack, for logs (a client must not see it). */
export type Reply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string; stack?: string };

/** Tokens a streaming generate request decoded since its last message; rows index its own prompts. */
export interface EventsMessage {
  id: number;
  events: TokenEvent[];
}

export interface InitResult {
  describe: Record<string, unknown>;
  /** Weight tensors (the all-reduce keeps one flag each). */
  paramTensors: number;
  /** Values over all weight tensors (the all-reduce's slot size). */
  weightValues: number;
  /** FNV-1a over every weight's bytes (models up to FINGERPRINT_MAX_PARAMS), else null. */
  fingerprint: string | null;
}

export interface TrainResult {
  gradNorm: number;
  lr: number;
  step: number;
}

export type GenerateResult = Completion[];

/** Worker → main during a train step, on the side channel. */
export type SyncMessage =
  { seq: number; kind: 'lp'; mb: number; lp: Float32Array; ent?: Float32Array } | { seq: number; kind: 'grads' };

/** Main → worker during a train step: d loss / d logProbs (and entropy) for the worker's rows. */
export type SyncReply = { dlp: Float32Array; dent?: Float32Array } | { abort: string };

export const FINGERPRINT_MAX_PARAMS = 50_000_000;
