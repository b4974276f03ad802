import path from 'node:path';
import type { ComponentContext, Logger, Tokenizer } from '../../core/index.js';
import { hashSeed } from '../../core/index.js';
import { type BackendInfo, selectBackend } from './backend/select.js';
import { resolveConfig, TINY_CONFIG } from './model/config.js';
import { Qwen3Model } from './model/qwen3.js';
import type { TfjsComponentOptions } from './options.js';
import { TfjsPolicy } from './policy.js';
import { loadTokenizer, TinyTokenizer } from './tokenizer/index.js';

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

/** Builds the policy a `policy/tfjs` (or `rollout/tfjs`) entry describes. */
export async function createTfjsPolicy(o: TfjsComponentOptions, ctx: ComponentContext): Promise<TfjsPolicy> {
  const info = await selectBackend(o.backend);
  logBackend(info, ctx.log);
  const seed = o.seed ?? (hashSeed(ctx.seed, ctx.name) >>> 0) % 2 ** 31;
  const tokenizer = await pickTokenizer(o);
  let model: Qwen3Model;
  if (o.checkpoint !== null) {
    model = await Qwen3Model.fromPretrained(path.resolve(o.checkpoint));
  } else {
    model = Qwen3Model.random(resolveConfig({ vocab_size: tokenizer.vocabSize, ...o.config }, TINY_CONFIG), seed);
  }
  if (tokenizer.vocabSize > model.config.vocab_size) {
    model.dispose();
    throw new Error(`${ctx.name}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${model.config.vocab_size}`);
  }
  const policy = new TfjsPolicy(model, tokenizer, {
    microBatchSize: o.microBatchSize,
    maxMicroBatchTokens: o.maxMicroBatchTokens,
    batchSize: o.batchSize,
    maxSeqLen: o.maxSeqLen,
    seed,
    optimizer: { ...o.optimizer },
    backend: info.detail,
  });
  if (o.checkpoint !== null) await policy.loadOptimizer(path.resolve(o.checkpoint));
  ctx.log.info(`${ctx.name}: Qwen3 ${(model.numParams / 1e6).toFixed(2)}M params (${model.config.num_hidden_layers} layers, d${model.config.hidden_size}, vocab ${model.config.vocab_size})${o.checkpoint ? ` from ${o.checkpoint}` : ', random init'}`);
  return policy;
}
