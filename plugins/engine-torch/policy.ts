import path from 'node:path';
import type {
  Completion,
  FinishReason,
  FusedLossSpec,
  FusedTraining,
  GenerateOptions,
  LossOutput,
  Policy,
  PolicyForward,
  SamplingParams,
  TokenBatch,
  Tokenizer,
  TopLogProb,
  TrainStepOptions,
  TrainStepStats,
} from '../../core/index.js';
import { hashSeed, lrAt } from '../../core/index.js';
import { lossGradients } from '../../core/train/index.js';
import { type Connection, release } from './connect.js';
import { datums, outputRows, planRows } from './datum.js';
import type { TorchPolicyOptions } from './options.js';

interface ForwardResult {
  loss_fn_outputs: Record<string, unknown>[];
  metrics: Record<string, number>;
}

interface OptimResult {
  grad_norm: number;
  lr: number;
  step: number;
  skipped: boolean;
}

/** The service's metric sums (name:sum / :min / :max over tokens) → agent0's means and extremes. */
export function serviceMetrics(m: Record<string, number>): Record<string, number> {
  const tokens = m['tokens:sum'] ?? 0;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) {
    const [name, red] = k.split(':') as [string, string | undefined];
    if (name === 'tokens' || name === 'loss') continue;
    if (red === 'min' || red === 'max') out[name] = v;
    else if (name.endsWith('_loss')) out[name] = v;
    else out[name] = tokens > 0 ? v / tokens : 0;
  }
  return out;
}

/**
 * One token's alternatives from an OpenAI completions `top_logprobs` entry ('token_id:N' keys): the
 * sampled token comes first, beyond the k most likely unless it is one of them (then k entries).
 */
export function alternatives(entry: Record<string, number>, k: number): TopLogProb[] {
  const all = Object.entries(entry).map(([key, logProb]) => ({ id: Number(key.slice('token_id:'.length)), logProb }));
  const top = all.length > k ? all.slice(1) : all;
  return top.sort((a, b) => b.logProb - a.logProb || a.id - b.id).slice(0, k);
}

/**
 * A Policy whose weights live in the agent0 trainer service (PyTorch; FSDP2 on GPUs). Everything
 * algorithmic stays here: losses run as closures on the service's log-probs (custom path) or go to
 * the service as data (fused path, `fused`); sampling uses the service's /v1/completions with the
 * live weights.
 */
export class TorchPolicy implements Policy {
  readonly fused?: FusedTraining;
  /** The service takes the top-k of each step's full distribution (OpenAI's cap). */
  readonly maxTopLogprobs = 20;
  private calls = 0;
  private step = 0;
  private disposed = false;

  constructor(
    private readonly conn: Connection,
    readonly modelId: string,
    readonly tokenizer: Tokenizer,
    readonly options: TorchPolicyOptions,
    private readonly seed: number,
    private desc: Record<string, unknown>,
    readonly frozen = false,
  ) {
    this.step = Number(desc.step ?? 0);
    if (!frozen && options.lossPath !== 'custom') {
      this.fused = {
        mode: options.lossPath === 'fused' ? 'fused' : 'auto',
        trainStep: (b, l, o) => this.trainFused(b, l, o),
      };
    }
  }

  private get client() {
    return this.conn.client;
  }

  /** The service this policy's weights live in (its client and what it said about itself). */
  get service(): Pick<Connection, 'client' | 'info'> {
    return this.conn;
  }

  describe(): Record<string, unknown> {
    const c = (this.desc.config ?? {}) as Record<string, unknown>;
    const i = this.conn.info;
    return {
      engine: 'torch',
      architecture: (c.architectures as string[] | undefined)?.[0] ?? c.model_type ?? 'causal-lm',
      impl: this.desc.impl,
      params: this.desc.params,
      layers: c.num_hidden_layers,
      hidden: c.hidden_size,
      vocab: c.vocab_size,
      device: i.device_name,
      ranks: i.world_size,
      torch: i.torch,
      transformers: i.transformers,
      computeDtype: this.desc.compute_dtype,
      paramDtype: this.desc.param_dtype,
      sharded: this.desc.sharded,
      lossPath: this.options.lossPath,
      step: this.step,
      frozen: this.frozen,
      // The service answers a sampling call whole: agent0 serve sends a stream's chunks after the
      // batch is decoded (it has no generateStream).
      streaming: false,
      topLogprobs: this.maxTopLogprobs,
    };
  }

  // ---- sampling ------------------------------------------------------------------------------
  async generate(prompts: number[][], params: SamplingParams, opts?: GenerateOptions): Promise<Completion[]> {
    if (params.seed === undefined) this.calls += 1;
    const seed = params.seed ?? hashSeed(this.seed, `generate/${this.calls}`) >>> 1;
    const out: Completion[] = [];
    for (let s = 0; s < prompts.length; s += this.options.sampleBatchSize) {
      const chunk = prompts.slice(s, s + this.options.sampleBatchSize);
      out.push(...(await this.sampleChunk(chunk, params, seed + s, opts?.signal)));
    }
    return out;
  }

  private async sampleChunk(
    prompts: number[][],
    params: SamplingParams,
    seed: number,
    signal?: AbortSignal,
  ): Promise<Completion[]> {
    prompts.forEach((p, i) => {
      if (p.length === 0) throw new Error(`generate(): prompt ${i} is empty (a causal LM needs at least one token)`);
    });
    const L = Math.max(...prompts.map((p) => p.length));
    const room = Math.min(params.maxNewTokens, this.options.maxSeqLen - L);
    if (room <= 0)
      return prompts.map(() => ({ tokenIds: [], text: '', logProbs: [], finishReason: 'length' as FinishReason }));
    const eos = new Set([...this.tokenizer.eosIds, ...(params.stopTokenIds ?? [])]);
    const body: Record<string, unknown> = {
      model: this.modelId,
      prompt: prompts,
      n: 1,
      max_tokens: room,
      seed,
      temperature: params.temperature ?? 1,
      top_p: params.topP ?? 1,
      top_k: params.topK && params.topK > 0 ? params.topK : -1,
      stop: params.stop ?? [],
      stop_token_ids: [...eos],
      ignore_eos: true,
      include_stop_str_in_output: true,
      logprobs: params.topLogprobs ?? 0,
      return_token_ids: true,
    };
    if (signal?.aborted)
      return prompts.map(() => ({ tokenIds: [], text: '', logProbs: [], finishReason: 'abort' as FinishReason }));
    const res = await this.client.completions(body, signal);
    if (res.choices.length !== prompts.length)
      throw new Error(`trainer /v1/completions: ${res.choices.length} choices for ${prompts.length} prompts`);
    return res.choices.map((c) => this.completion(c, eos, params.topLogprobs ?? 0));
  }

  private completion(c: Record<string, unknown>, eos: Set<number>, k: number): Completion {
    const ids = (c.token_ids as number[] | undefined) ?? [];
    const lpObj = c.logprobs as { token_logprobs?: number[]; top_logprobs?: Record<string, number>[] | null } | null;
    const lp = lpObj?.token_logprobs ?? ids.map(() => NaN);
    const top =
      k > 0 && lpObj?.top_logprobs ? { topLogProbs: lpObj.top_logprobs.map((entry) => alternatives(entry, k)) } : {};
    let text = this.tokenizer.decode(ids);
    const reason = c.stop_reason;
    let finishReason: FinishReason = 'length';
    let stopString: string | undefined;
    if (c.finish_reason === 'stop' && typeof reason === 'string') {
      finishReason = 'stop';
      stopString = reason;
      // cut after the stop string, as in-process engines do (the token that completed it may run on)
      const at = text.indexOf(reason);
      if (at >= 0) text = text.slice(0, at + reason.length);
    } else if (c.finish_reason === 'stop' && typeof reason === 'number' && eos.has(reason)) {
      finishReason = 'eos';
    }
    return {
      tokenIds: ids,
      text,
      logProbs: lp,
      finishReason,
      ...(stopString !== undefined ? { stopString } : {}),
      ...top,
    };
  }

  // ---- log-probs and training ------------------------------------------------------------------
  async computeLogProbs(batch: TokenBatch): Promise<Float32Array[]> {
    const plan = planRows(batch);
    const B = batch.inputIds.length;
    if (plan.sent.length === 0) return Array.from({ length: B }, () => new Float32Array(plan.T));
    const r = await this.client.call<ForwardResult>(
      '/api/v1/forward',
      {
        model_id: this.modelId,
        forward_input: { data: datums(batch, plan), loss_fn: 'cross_entropy' },
      },
      true,
    );
    return outputRows(r.loss_fn_outputs, plan, B, 'logprobs');
  }

  private adam(lr: number): Record<string, number> {
    const o = this.options.optimizer;
    return {
      learning_rate: lr,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weight_decay: o.weightDecay,
      grad_clip_norm: o.maxGradNorm,
    };
  }

  private async optimStep(lrOverride: number | undefined): Promise<OptimResult> {
    const lr = lrOverride ?? lrAt(this.options.optimizer, this.step + 1);
    const r = await this.client.call<OptimResult>('/api/v1/optim_step', {
      model_id: this.modelId,
      adam_params: this.adam(lr),
    });
    this.step = r.step;
    if (r.skipped)
      throw new Error(`policy/torch: the gradient norm is ${r.grad_norm} (not finite); the optimizer step was skipped`);
    return r;
  }

  /**
   * Custom path (exact for any loss closure): the service's log-probs (and entropy) → the closure
   * under the tape here, per micro-batch → d loss / d log-prob as per-token weights → the service
   * back-propagates them (Tinker's cross_entropy with weights = -dL/dlogp) → AdamW.
   */
  async trainStep(
    batch: TokenBatch,
    lossFn: (fwd: PolicyForward) => LossOutput,
    opts?: TrainStepOptions,
  ): Promise<TrainStepStats> {
    if (this.frozen) throw new Error('trainStep on a frozen snapshot');
    const B = batch.inputIds.length;
    if (B === 0) throw new Error('trainStep: empty batch');
    const plan = planRows(batch);
    const T = plan.T;
    const needEntropy = opts?.needEntropy ?? false;
    let lp: Float32Array[] = Array.from({ length: B }, () => new Float32Array(T));
    let ent: Float32Array[] | undefined = needEntropy
      ? Array.from({ length: B }, () => new Float32Array(T))
      : undefined;
    if (plan.sent.length > 0) {
      const fwd = await this.client.call<ForwardResult>(
        '/api/v1/forward',
        {
          model_id: this.modelId,
          forward_input: { data: datums(batch, plan), loss_fn: 'cross_entropy' },
          agent0: { entropy: needEntropy },
        },
        true,
      );
      lp = outputRows(fwd.loss_fn_outputs, plan, B, 'logprobs');
      if (needEntropy) ent = outputRows(fwd.loss_fn_outputs, plan, B, 'entropy');
    }
    const size = Math.max(1, Math.min(opts?.microBatchSize ?? this.options.microBatchSize, B));
    const dlp: Float32Array[] = [];
    const dent: Float32Array[] = [];
    let loss = 0;
    let anyEnt = false;
    const metrics: Record<string, number> = {};
    for (let s = 0; s < B; s += size) {
      const rows = Array.from({ length: Math.min(size, B - s) }, (_, j) => s + j);
      const share = rows.length / B;
      const flat = (src: Float32Array[]) => {
        const f = new Float32Array(rows.length * T);
        rows.forEach((r, j) => f.set(src[r] as Float32Array, j * T));
        return f;
      };
      const g = lossGradients(flat(lp), ent ? flat(ent) : undefined, rows, T, share, lossFn);
      loss += g.value;
      for (const [k, v] of Object.entries(g.metrics)) metrics[k] = (metrics[k] ?? 0) + v * share;
      rows.forEach((_, j) => {
        dlp.push(g.dlp.subarray(j * T, (j + 1) * T));
        const de = g.dent?.subarray(j * T, (j + 1) * T);
        if (de && de.some((x) => x !== 0)) anyEnt = true;
        dent.push(de ?? new Float32Array(T));
      });
    }
    if (plan.sent.length > 0) {
      const neg = (rows: Float32Array[]) => rows.map((r) => Float32Array.from(r, (x) => -x));
      await this.client.call<ForwardResult>(
        '/api/v1/forward_backward',
        {
          model_id: this.modelId,
          forward_backward_input: {
            data: datums(batch, plan, { weights: neg(dlp), ...(anyEnt ? { entropy_weights: neg(dent) } : {}) }),
            loss_fn: 'cross_entropy',
          },
        },
        true,
      );
    }
    const r = await this.optimStep(opts?.lr);
    return {
      loss,
      gradNorm: r.grad_norm,
      lr: r.lr,
      step: r.step,
      tokens: plan.lengths.reduce((a, n) => a + n, 0),
      metrics,
    };
  }

  /** Fused path: the service computes agent0_ppo from the spec (one forward, one round trip). */
  private async trainFused(batch: TokenBatch, spec: FusedLossSpec, opts?: TrainStepOptions): Promise<TrainStepStats> {
    if (this.frozen) throw new Error('trainStep on a frozen snapshot');
    const B = batch.inputIds.length;
    if (B === 0) throw new Error('trainStep: empty batch');
    const plan = planRows(batch);
    let metrics: Record<string, number> = {};
    let loss = 0;
    if (plan.sent.length > 0) {
      const inputs = {
        weights: spec.weights,
        logprobs: spec.oldLogProbs,
        advantages: spec.advantages,
        mask: spec.mask,
        ...(spec.refLogProbs ? { ref_logprobs: spec.refLogProbs } : {}),
      };
      const config: Record<string, unknown> = {
        ratio: spec.ratio,
        clip_ratio_c: spec.clipRatioC ?? 0,
        entropy_coef: spec.entropyCoef,
        entropy: opts?.needEntropy ?? false,
        ...(spec.klType ? { kl_type: spec.klType, kl_coef: spec.klCoef } : {}),
      };
      const r = await this.client.call<ForwardResult>(
        '/api/v1/forward_backward',
        {
          model_id: this.modelId,
          forward_backward_input: {
            data: datums(batch, plan, inputs, { clip_low: spec.clipLow, clip_high: spec.clipHigh }),
            loss_fn: 'agent0_ppo',
            loss_fn_config: config,
          },
          agent0: { entropy: opts?.needEntropy ?? false },
        },
        true,
      );
      metrics = serviceMetrics(r.metrics);
      loss = r.metrics['loss:sum'] ?? 0;
    }
    const o = await this.optimStep(opts?.lr);
    return {
      loss,
      gradNorm: o.grad_norm,
      lr: o.lr,
      step: o.step,
      tokens: plan.lengths.reduce((a, n) => a + n, 0),
      metrics,
    };
  }

  // ---- weights -------------------------------------------------------------------------------
  async snapshot(): Promise<Policy> {
    const r = await this.client.call<Record<string, unknown>>('/agent0/snapshot', { model_id: this.modelId });
    this.conn.refs += 1;
    return new TorchPolicy(this.conn, String(r.model_id), this.tokenizer, this.options, this.seed, r, true);
  }

  /** An HF folder (config.json, safetensors, tokenizer files) plus AdamW state: what load() and resume read. */
  async save(dir: string): Promise<void> {
    await this.client.call('/api/v1/save_weights', { model_id: this.modelId, path: path.resolve(dir) });
    const tok = this.tokenizer as Tokenizer & { save?: (d: string) => Promise<void> | void };
    if (typeof tok.save === 'function') await tok.save(path.resolve(dir));
  }

  async load(dir: string): Promise<void> {
    const r = await this.client.call<{ step: number }>('/api/v1/load_weights', {
      model_id: this.modelId,
      path: path.resolve(dir),
      optimizer: !this.frozen,
    });
    this.step = r.step;
  }

  /** Unloads the model from the service; the last policy of a launched service shuts it down. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      if (this.conn.process?.alive ?? true)
        await this.client.call('/api/v1/unload_model', { model_id: this.modelId }).catch(() => undefined);
    } finally {
      await release(this.conn);
    }
  }
}
