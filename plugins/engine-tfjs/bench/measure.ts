import type { LossOutput, Policy, PolicyForward, Tokenizer } from '../../../core/index.js';
import * as tf from '@tensorflow/tfjs';
import type { Qwen3Config } from '../model/config.js';
import { Qwen3Model } from '../model/qwen3.js';
import { type BackendChoice, selectBackend } from '../backend/select.js';
import { ParallelTfjsPolicy } from '../parallel/policy.js';
import { DEFAULT_POLICY_OPTIONS, TfjsPolicy } from '../policy.js';

/** Shapes every engine in the comparison runs (the PyTorch peer reads the same numbers). */
export interface BenchShape {
  /** Training / log-prob batch: rows × tokens. */
  trainBatch: number;
  trainLen: number;
  /** Sampling: rows decoded together, prompt tokens, new tokens per row. */
  sampleBatch: number;
  promptLen: number;
  newTokens: number;
  /** Timed repetitions after one warm-up (the fastest counts). */
  reps: number;
}

export const DEFAULT_SHAPE: BenchShape = {
  trainBatch: 8,
  trainLen: 128,
  sampleBatch: 16,
  promptLen: 16,
  newTokens: 112,
  reps: 5,
};

export interface BenchResult {
  trainTokensPerSec: number;
  logProbTokensPerSec: number;
  sampleTokensPerSec: number;
}

/** Ids as themselves: the bench never stops at an EOS, so every row decodes `newTokens`. */
export class IdTokenizer implements Tokenizer {
  readonly eosIds: number[] = [];
  readonly padId = 0;
  constructor(readonly vocabSize: number) {}
  encode(text: string): number[] {
    return [...text].map((c) => c.charCodeAt(0) % this.vocabSize);
  }
  decode(ids: readonly number[]): string {
    return ids.map((i) => String.fromCharCode(32 + (i % 90))).join('');
  }
}

/** Deterministic token rows (an LCG), the same in every engine. */
export function benchTokens(rows: number, len: number, vocab: number, seed: number): number[][] {
  let s = seed >>> 0;
  return Array.from({ length: rows }, () =>
    Array.from({ length: len }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return 1 + (s % (vocab - 1));
    }),
  );
}

function meanNll(fwd: PolicyForward): LossOutput {
  return { loss: tf.neg(tf.mean(fwd.logProbs)) as tf.Scalar };
}

/**
 * Seconds per call: the fastest of `reps` timed calls after one warm-up. The best, not the mean,
 * because the machines this runs on are shared: other processes only ever add time. The PyTorch
 * peer times itself the same way.
 */
async function timed(reps: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best / 1000;
}

function benchPolicy(config: Qwen3Config, shape: BenchShape): TfjsPolicy {
  return new TfjsPolicy(Qwen3Model.random(config, 1), new IdTokenizer(config.vocab_size), {
    ...DEFAULT_POLICY_OPTIONS,
    microBatchSize: shape.trainBatch,
    batchSize: shape.sampleBatch,
    maxSeqLen: shape.promptLen + shape.newTokens,
  });
}

/** The bench's policy built inside a worker thread (named by benchModel's factory spec). */
export async function benchPolicyInWorker(args: {
  config: Qwen3Config;
  shape: BenchShape;
  backend: BackendChoice;
}): Promise<TfjsPolicy> {
  await selectBackend(args.backend);
  return benchPolicy(args.config, args.shape);
}

/**
 * Train, log-prob and KV-cache sampling throughput of a random-init model of this config, on one
 * thread (`workers` 1) or split data-parallel over worker threads as `policy/tfjs` does by default.
 */
export async function benchModel(
  config: Qwen3Config,
  shape: BenchShape = DEFAULT_SHAPE,
  workers = 1,
  backend: BackendChoice = 'wasm',
): Promise<BenchResult> {
  const policy: Policy =
    workers > 1
      ? await ParallelTfjsPolicy.create(
          workers,
          new IdTokenizer(config.vocab_size),
          { module: import.meta.url, export: 'benchPolicyInWorker', args: { config, shape, backend } },
          {
            microBatchSize: shape.trainBatch,
            maxMicroBatchTokens: DEFAULT_POLICY_OPTIONS.maxMicroBatchTokens,
            seed: DEFAULT_POLICY_OPTIONS.seed,
          },
        )
      : benchPolicy(config, shape);
  try {
    const ids = benchTokens(shape.trainBatch, shape.trainLen, config.vocab_size, 7);
    const batch = { inputIds: ids, attentionMask: ids.map((r) => r.map(() => 1)) };
    const tokens = shape.trainBatch * shape.trainLen;
    const trainS = await timed(shape.reps, () => policy.trainStep(batch, meanNll));
    const lpS = await timed(shape.reps, () => policy.computeLogProbs(batch));
    const prompts = benchTokens(shape.sampleBatch, shape.promptLen, config.vocab_size, 11);
    const sampleS = await timed(shape.reps, () =>
      policy.generate(prompts, { maxNewTokens: shape.newTokens, temperature: 1, seed: 3 }),
    );
    return {
      trainTokensPerSec: tokens / trainS,
      logProbTokensPerSec: tokens / lpS,
      sampleTokensPerSec: (shape.sampleBatch * shape.newTokens) / sampleS,
    };
  } finally {
    await policy.dispose();
  }
}
