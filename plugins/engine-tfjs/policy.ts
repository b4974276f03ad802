import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
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
} from '../../core/index.js';
import { HF_TOKENIZER_FILES, TINY_TOKENIZER_FILE, writeJsonAtomic } from '../../core/index.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from './io/safetensors.js';
import { type Qwen3Config, resolveConfig } from './model/config.js';
import { Qwen3Model } from './model/qwen3.js';
import { fromHfTensors, type HostTensor } from './model/weights.js';
import { callSeed, generate, type GenerateConfig } from './generate/generate.js';
import { AdamW, DEFAULT_ADAMW } from './train/adamw.js';
import { type TfjsComponentOptions, tfjsOptionsSchema } from './options.js';
import { forwardLogProbs, microBatches, rowsPerMicroBatch } from './train/logprobs.js';
import { trainStep } from './train/step.js';

/** What the policy reads of the `policy/tfjs` options, plus what only scripts or create.ts set. */
export type TfjsPolicyOptions = Pick<
  TfjsComponentOptions,
  'microBatchSize' | 'maxMicroBatchTokens' | 'maxSeqLen' | 'batchSize' | 'optimizer'
> & {
  /** create.ts resolves the schema's null (derive from the run seed) before building the policy. */
  seed: NonNullable<TfjsComponentOptions['seed']>;
  /** Folder the tokenizer files came from; save() copies them from here. */
  tokenizerDir?: string;
  /** The backend actually selected, for describe(); unset = tf.getBackend(). */
  backend?: string;
};

const schemaDefaults = tfjsOptionsSchema.properties;

/** The schema's defaults, for a policy built without a recipe. */
export const DEFAULT_POLICY_OPTIONS: TfjsPolicyOptions = {
  microBatchSize: schemaDefaults.microBatchSize.default,
  maxMicroBatchTokens: schemaDefaults.maxMicroBatchTokens.default,
  maxSeqLen: schemaDefaults.maxSeqLen.default,
  batchSize: schemaDefaults.batchSize.default,
  // The schema's null needs a run seed and instance name; without a recipe there are none.
  seed: 0,
  // The schema's optimizer defaults are DEFAULT_ADAMW's.
  optimizer: DEFAULT_ADAMW,
};

/** What loadTokenizer may read, plus slow-tokenizer files; copied on save so a checkpoint is self-contained. */
const TOKENIZER_FILES = [...HF_TOKENIZER_FILES, 'vocab.json', 'merges.txt', TINY_TOKENIZER_FILE];
const OPTIMIZER_FILE = 'optimizer.safetensors';
export const MAX_TOP_LOGPROBS = 20;

/** A Qwen3 model + tokenizer + AdamW: the in-process Policy (and RolloutEngine). */
export class TfjsPolicy implements Policy {
  readonly opt: AdamW;
  /** Alternatives come from the full next-token distribution; 20 is OpenAI's (and vLLM's default) cap. */
  readonly maxTopLogprobs = MAX_TOP_LOGPROBS;
  private frozen = false;
  private calls = 0;

  constructor(
    readonly model: Qwen3Model,
    readonly tokenizer: Tokenizer,
    readonly options: TfjsPolicyOptions,
  ) {
    this.opt = new AdamW({ ...options.optimizer });
  }

  describe(): Record<string, unknown> {
    const c = this.model.config;
    return {
      engine: 'tfjs',
      architecture: 'Qwen3ForCausalLM',
      params: this.model.numParams,
      layers: c.num_hidden_layers,
      hidden: c.hidden_size,
      heads: `${c.num_attention_heads}q/${c.num_key_value_heads}kv x ${c.head_dim}`,
      ffn: c.intermediate_size,
      vocab: c.vocab_size,
      tiedEmbeddings: c.tie_word_embeddings,
      backend: this.options.backend ?? tf.getBackend(),
      step: this.opt.step,
      frozen: this.frozen,
    };
  }

  async generate(prompts: number[][], params: SamplingParams, opts?: GenerateOptions): Promise<Completion[]> {
    return this.decodeBatch(prompts, params, opts);
  }

  /** Tokens are decoded one step at a time for the whole batch, so each is reported as it comes. */
  async generateStream(
    prompts: number[][],
    params: SamplingParams,
    onToken: (e: TokenEvent) => void,
    opts?: GenerateOptions,
  ): Promise<Completion[]> {
    return this.decodeBatch(prompts, params, opts, onToken);
  }

  private decodeBatch(
    prompts: number[][],
    params: SamplingParams,
    opts?: GenerateOptions,
    onToken?: (e: TokenEvent) => void,
  ): Promise<Completion[]> {
    // Without a seed in the params, each call draws fresh samples (reproducibly: the n-th unseeded
    // call of a policy with the same seed draws the same ones).
    if (params.seed === undefined) this.calls += 1;
    return this.sample(prompts, params, {
      seed: callSeed(this.options.seed, this.calls),
      ...(opts?.signal ? { signal: opts.signal } : {}),
      ...(opts?.sampleKeys ? { sampleKeys: opts.sampleKeys } : {}),
      ...(onToken ? { onToken } : {}),
    });
  }

  /** Sampling with the stream seed (and row offset) chosen by the caller; a parallel worker's entry. */
  sample(
    prompts: number[][],
    params: SamplingParams,
    cfg: Omit<GenerateConfig, 'batchSize' | 'maxSeqLen'>,
  ): Promise<Completion[]> {
    return generate(this.model, this.tokenizer, prompts, params, {
      ...cfg,
      batchSize: this.options.batchSize,
      maxSeqLen: this.options.maxSeqLen,
    });
  }

  async computeLogProbs(batch: TokenBatch, opts?: { microBatchSize?: number }): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    // Without gradients only one layer's activations live at a time: a 4x larger token budget.
    const size = this.rowsPerMicroBatch(batch, opts?.microBatchSize, 4);
    for (const rows of microBatches(batch.inputIds.length, size)) {
      const lp = tf.tidy(() => forwardLogProbs(this.model, batch, rows, false, true).logProbs);
      const data = (await lp.data()) as Float32Array;
      lp.dispose();
      const T = lp.shape[1];
      rows.forEach((_, i) => out.push(data.slice(i * T, (i + 1) * T)));
    }
    return out;
  }

  async trainStep(
    batch: TokenBatch,
    lossFn: (fwd: PolicyForward) => LossOutput,
    opts?: TrainStepOptions,
  ): Promise<TrainStepStats> {
    if (this.frozen) throw new Error('trainStep on a frozen snapshot');
    return trainStep(this.model, this.opt, batch, lossFn, {
      ...opts,
      microBatchSize: this.rowsPerMicroBatch(batch, opts?.microBatchSize, 1),
    });
  }

  /** The asked micro-batch size (rows), lowered so rows × T stays within the token budget. */
  rowsPerMicroBatch(batch: TokenBatch, asked: number | undefined, budgetScale: number): number {
    return rowsPerMicroBatch(batch, asked, this.options.microBatchSize, this.options.maxMicroBatchTokens, budgetScale);
  }

  async snapshot(): Promise<Policy> {
    const copy = new Qwen3Model(this.model.config, this.model.readWeights(), {
      trainable: false,
      mode: this.model.mode,
    });
    const p = new TfjsPolicy(copy, this.tokenizer, this.options);
    p.frozen = true;
    return p;
  }

  /** HF-style folder: config.json, model.safetensors, tokenizer files, optimizer.safetensors, agent0.json. */
  async save(dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true });
    const c = this.model.config;
    const config: Qwen3Config = {
      ...c,
      eos_token_id:
        c.eos_token_id ?? (this.tokenizer.eosIds.length === 1 ? this.tokenizer.eosIds[0] : [...this.tokenizer.eosIds]),
      torch_dtype: 'float32',
    };
    await writeJsonAtomic(path.join(dir, 'config.json'), config);
    const weights = new Map([...this.model.hfTensors()].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
    await writeSafetensors(path.join(dir, 'model.safetensors'), weights, { format: 'pt' });
    const st = this.opt.state();
    const optT = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [k, v] of st.m) optT.set(`m.${k}`, { shape: this.model.p(k).shape, data: v });
    for (const [k, v] of st.v) optT.set(`v.${k}`, { shape: this.model.p(k).shape, data: v });
    await writeSafetensors(path.join(dir, OPTIMIZER_FILE), optT, {
      step: String(st.step),
      layout: 'agent0-tfjs-internal',
    });
    await this.saveTokenizer(dir);
    await writeJsonAtomic(path.join(dir, 'agent0.json'), {
      engine: 'tfjs',
      step: this.opt.step,
      optimizer: this.opt.cfg,
      savedAt: new Date().toISOString(),
    });
  }

  private async saveTokenizer(dir: string): Promise<void> {
    const tok = this.tokenizer as Tokenizer & { save?: (d: string) => Promise<void> | void };
    if (typeof tok.save === 'function') {
      await tok.save(dir);
      return;
    }
    const src = this.options.tokenizerDir;
    if (!src || path.resolve(src) === path.resolve(dir)) return;
    for (const f of TOKENIZER_FILES) {
      try {
        await fs.copyFile(path.join(src, f), path.join(dir, f));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }

  /** Loads weights (and optimizer state when present) saved by save() or any HF Qwen3 folder of the same shape. */
  async load(dir: string): Promise<void> {
    const cfg = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8')) as Partial<Qwen3Config>;
    const c = resolveConfig(cfg, cfg as Qwen3Config);
    const mine = this.model.config;
    for (const k of [
      'vocab_size',
      'hidden_size',
      'intermediate_size',
      'num_hidden_layers',
      'num_attention_heads',
      'num_key_value_heads',
      'head_dim',
      'tie_word_embeddings',
    ] as const) {
      if (c[k] !== mine[k]) throw new Error(`load(${dir}): ${k} is ${String(c[k])} there but ${String(mine[k])} here`);
    }
    const tensors = await readSafetensors(dir);
    this.model.setWeights(fromHfTensors(mine, tensors as Map<string, HostTensor>));
    await this.loadOptimizer(dir);
  }

  /**
   * Restores AdamW's moments and step from a folder save() wrote; a folder without them (an HF checkpoint) leaves a
   * fresh optimizer.
   */
  async loadOptimizer(dir: string): Promise<void> {
    const optFile = path.join(dir, OPTIMIZER_FILE);
    const hasOpt = await fs.stat(optFile).then(
      () => true,
      () => false,
    );
    if (hasOpt) {
      const o = await readSafetensors(optFile);
      const meta = (await readSafetensorsHeader(optFile)).metadata;
      const m = new Map<string, { shape: number[]; data: Float32Array }>();
      const v = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const [k, t] of o) (k.startsWith('m.') ? m : v).set(k.slice(2), t);
      this.opt.setState(Number(meta.step ?? 0), m, v);
    }
  }

  dispose(): void {
    this.model.dispose();
    this.opt.dispose();
  }
}
