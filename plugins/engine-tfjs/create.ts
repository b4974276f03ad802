import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { ComponentContext, Logger, Policy, Tokenizer } from '../../core/index.js';
import { hashSeed } from '../../core/index.js';
import { type BackendInfo, selectBackend } from './backend/select.js';
import { countParams, type Qwen3Config, resolveConfig, TINY_CONFIG } from './model/config.js';
import { Qwen3Model } from './model/qwen3.js';
import type { TfjsComponentOptions } from './options.js';
import { ParallelTfjsPolicy } from './parallel/policy.js';
import { TfjsPolicy } from './policy.js';
import { loadTokenizer, TinyTokenizer } from '../../core/index.js';

let logged: string | undefined;

/** tfjs has one backend per process: say which once, not once per policy instance. */
function logBackend(info: BackendInfo, log: Logger): void {
  if (logged === info.detail) return;
  logged = info.detail;
  log.info(`tfjs backend: ${info.detail}${info.skipped.length ? ` (passed over: ${info.skipped.join('; ')})` : ''}`);
}

async function pickTokenizer(o: TfjsComponentOptions): Promise<Tokenizer> {
  const words = o.tokenizerWords ?? [];
  if (o.tokenizer === 'tiny') return new TinyTokenizer({ words });
  if (words.length > 0) throw new Error("tokenizerWords applies to the 'tiny' tokenizer only (set tokenizer: tiny)");
  if (o.tokenizer !== null) return loadTokenizer(path.resolve(o.tokenizer));
  if (o.checkpoint !== null) return loadTokenizer(path.resolve(o.checkpoint));
  return new TinyTokenizer();
}

/** What each worker of a parallel policy is handed to build its copy (structured-cloneable). */
export interface WorkerPolicyArgs {
  options: TfjsComponentOptions;
  seed: number;
}

/** The single-thread policy an entry describes, on the backend already selected (no logging). */
async function buildTfjsPolicy(
  o: TfjsComponentOptions,
  seed: number,
  backend: string,
  name: string,
  tok?: Tokenizer,
): Promise<TfjsPolicy> {
  const tokenizer = tok ?? (await pickTokenizer(o));
  let model: Qwen3Model;
  if (o.checkpoint !== null) {
    model = await Qwen3Model.fromPretrained(path.resolve(o.checkpoint));
  } else {
    model = Qwen3Model.random(resolveConfig({ vocab_size: tokenizer.vocabSize, ...o.config }, TINY_CONFIG), seed);
  }
  if (tokenizer.vocabSize > model.config.vocab_size) {
    model.dispose();
    throw new Error(
      `${name}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${model.config.vocab_size}`,
    );
  }
  const policy = new TfjsPolicy(model, tokenizer, {
    microBatchSize: o.microBatchSize,
    maxMicroBatchTokens: o.maxMicroBatchTokens,
    batchSize: o.batchSize,
    maxSeqLen: o.maxSeqLen,
    seed,
    optimizer: { ...o.optimizer },
    backend,
  });
  if (o.checkpoint !== null) await policy.loadOptimizer(path.resolve(o.checkpoint));
  return policy;
}

/** Entry point the workers of a ParallelTfjsPolicy call (named in the factory spec below). */
export async function tfjsPolicyInWorker(args: WorkerPolicyArgs): Promise<TfjsPolicy> {
  const info = await selectBackend(args.options.backend);
  return buildTfjsPolicy(args.options, args.seed, info.detail, 'worker');
}

/** Above this size `auto` stays on one thread: every worker holds the weights and AdamW's moments. */
export const AUTO_PARALLEL_MAX_PARAMS = 50_000_000;

/**
 * Threads for data parallelism: wasm and cpu run one thread per backend, so `auto` uses one
 * worker per core (up to 4), for models up to AUTO_PARALLEL_MAX_PARAMS (a copy of the weights per
 * worker); GPU backends already use the whole device, so one.
 */
export function resolveWorkers(asked: number | null, backendName: string, params = 0): number {
  if (asked !== null) return asked;
  if (backendName !== 'wasm' && backendName !== 'cpu') return 1;
  if (params > AUTO_PARALLEL_MAX_PARAMS) return 1;
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** The parameter count the entry will have, read from config.json for a checkpoint. */
async function plannedParams(o: TfjsComponentOptions, tokenizer: Tokenizer): Promise<number> {
  if (o.checkpoint === null)
    return countParams(resolveConfig({ vocab_size: tokenizer.vocabSize, ...o.config }, TINY_CONFIG));
  try {
    const cfg = JSON.parse(
      await readFile(path.join(path.resolve(o.checkpoint), 'config.json'), 'utf8'),
    ) as Partial<Qwen3Config>;
    return countParams(resolveConfig(cfg, cfg as Qwen3Config));
  } catch {
    return 0; // the loader reports an unreadable checkpoint with its own message
  }
}

/** Builds the policy a `policy/tfjs` (or `rollout/tfjs`) entry describes. */
export async function createTfjsPolicy(o: TfjsComponentOptions, ctx: ComponentContext): Promise<Policy> {
  const info = await selectBackend(o.backend);
  logBackend(info, ctx.log);
  const seed = o.seed ?? (hashSeed(ctx.seed, ctx.name) >>> 0) % 2 ** 31;
  const tokenizer = await pickTokenizer(o);
  const workers = resolveWorkers(o.workers, info.name, o.workers === null ? await plannedParams(o, tokenizer) : 0);
  let policy: Policy;
  if (workers > 1) {
    const args: WorkerPolicyArgs = { options: { ...o, backend: info.choice }, seed };
    policy = await ParallelTfjsPolicy.create(
      workers,
      tokenizer,
      { module: import.meta.url, export: 'tfjsPolicyInWorker', args },
      {
        microBatchSize: o.microBatchSize,
        maxMicroBatchTokens: o.maxMicroBatchTokens,
        seed,
      },
    );
  } else {
    policy = await buildTfjsPolicy(o, seed, info.detail, ctx.name, tokenizer);
  }
  const d = policy.describe();
  ctx.log.info(
    `${ctx.name}: Qwen3 ${(Number(d.params) / 1e6).toFixed(2)}M params (${String(d.layers)} layers, d${String(d.hidden)}, vocab ${String(d.vocab)})${o.checkpoint ? ` from ${o.checkpoint}` : ', random init'}${workers > 1 ? `, ${workers} worker threads` : ''}`,
  );
  return policy;
}
