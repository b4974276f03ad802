import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ComponentContext, Policy, Tokenizer } from '../../core/index.js';
import { hashSeed, loadTokenizer, TinyTokenizer } from '../../core/index.js';
import { connect, release } from './connect.js';
import type { TorchPolicyOptions } from './options.js';
import { TorchPolicy } from './policy.js';

const SHAPE_FIELDS = [
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
];

async function pickTokenizer(o: TorchPolicyOptions): Promise<{ tokenizer: Tokenizer; dir: string | null }> {
  const words = o.tokenizerWords ?? [];
  if (o.tokenizer === 'tiny' || (o.tokenizer === null && o.checkpoint === null))
    return { tokenizer: new TinyTokenizer({ words }), dir: null };
  if (words.length > 0) throw new Error("tokenizerWords applies to the 'tiny' tokenizer only (set tokenizer: tiny)");
  const dir = path.resolve((o.tokenizer ?? o.checkpoint) as string);
  return { tokenizer: await loadTokenizer(dir), dir };
}

/**
 * A folder the service can read the tokenizer files from (stop strings, saved checkpoints). A
 * tokenizer without one (the tiny one) is saved under a name made of its contents, shared by every
 * policy and run that use the same tokenizer.
 */
async function tokenizerFolder(tok: Tokenizer, dir: string | null): Promise<string | null> {
  if (dir) return dir;
  const saver = tok as Tokenizer & { save?: (d: string) => Promise<void> | void };
  if (typeof saver.save !== 'function') return null;
  const fresh = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-tok-'));
  await saver.save(fresh);
  const files = (await fs.readdir(fresh)).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(await fs.readFile(path.join(fresh, f)));
  const stable = path.join(os.tmpdir(), `agent0-tokenizer-${hash.digest('hex').slice(0, 16)}`);
  // same name, same contents: whoever renames first wins, the others drop their copy
  await fs.rename(fresh, stable).catch(() => fs.rm(fresh, { recursive: true, force: true }));
  return stable;
}

/** The HF config of a random-init model: the recipe's shape, Qwen3 defaults for the rest. */
export function randomInitConfig(o: TorchPolicyOptions, tok: Tokenizer, name: string): Record<string, unknown> {
  const c = o.config;
  const missing = SHAPE_FIELDS.filter((k) => typeof c[k] !== 'number');
  if (missing.length > 0)
    throw new Error(`${name}: random init (checkpoint: null) needs config.${missing.join(', config.')}`);
  const heads = c.num_attention_heads as number;
  return {
    model_type: 'qwen3',
    architectures: ['Qwen3ForCausalLM'],
    vocab_size: tok.vocabSize,
    head_dim: Math.floor((c.hidden_size as number) / heads),
    rms_norm_eps: 1e-6,
    rope_theta: 1_000_000,
    tie_word_embeddings: false,
    max_position_embeddings: o.maxSeqLen,
    hidden_act: 'silu',
    attention_bias: false,
    initializer_range: 0.02,
    eos_token_id: tok.eosIds.length === 1 ? tok.eosIds[0] : [...tok.eosIds],
    pad_token_id: tok.padId,
    ...c,
  };
}

/** Builds the policy a `policy/torch` entry describes: connects to (or launches) the service, creates the model. */
export async function createTorchPolicy(o: TorchPolicyOptions, ctx: ComponentContext): Promise<Policy> {
  // loss closures and rlStep run on tfjs here (small [B, T] tensors): its backend must be up
  await tf.ready();
  const seed = o.seed ?? (hashSeed(ctx.seed, ctx.name) >>> 0) % 2 ** 31;
  const { tokenizer, dir } = await pickTokenizer(o);
  const config = o.checkpoint === null ? randomInitConfig(o, tokenizer, ctx.name) : null;
  const token = o.apiKeyEnv ? process.env[o.apiKeyEnv] : undefined;
  if (o.url && o.apiKeyEnv && !token)
    throw new Error(`${ctx.name}: apiKeyEnv names '${o.apiKeyEnv}', which is not set`);
  const conn = await connect(
    { url: o.url, ...(token ? { token } : {}), launch: o.launch, requestTimeoutMs: o.requestTimeoutMs },
    ctx.log,
  );
  try {
    const m = o.model;
    const options = {
      impl: m.impl,
      param_dtype: m.paramDtype,
      compute_dtype: m.computeDtype,
      shard: m.shard,
      micro_batch_tokens: m.microBatchTokens,
      max_micro_batch_rows: m.maxMicroBatchRows,
      gradient_checkpointing: m.gradientCheckpointing,
      seed,
    };
    const desc = await conn.client.call<Record<string, unknown>>('/api/v1/create_model', {
      base_model: o.checkpoint === null ? null : path.resolve(o.checkpoint),
      lora_config: { rank: 0 },
      agent0: { ...(config ? { config } : {}), tokenizer_dir: await tokenizerFolder(tokenizer, dir), options },
    });
    const vocab = Number((desc.config as Record<string, unknown> | undefined)?.vocab_size ?? 0);
    if (tokenizer.vocabSize > vocab) {
      await conn.client.call('/api/v1/unload_model', { model_id: desc.model_id });
      throw new Error(
        `${ctx.name}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${vocab}`,
      );
    }
    const policy = new TorchPolicy(conn, String(desc.model_id), tokenizer, o, seed, desc);
    const d = policy.describe();
    ctx.log.info(
      `${ctx.name}: ${String(d.architecture)} ${(Number(d.params) / 1e6).toFixed(2)}M params on the trainer service ` +
        `(${String(d.impl)}, ${String(d.device)} x${String(d.ranks)}, torch ${String(d.torch)}, compute ${String(d.computeDtype)})${o.checkpoint ? ` from ${o.checkpoint}` : ', random init'}`,
    );
    return policy;
  } catch (e) {
    await release(conn);
    throw e;
  }
}
