import type * as tf from '@tensorflow/tfjs-core';

/** One chat message, as HF chat templates expect it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
}

/** Text <-> token ids. Implemented by the engine plugin (HF tokenizer.json or the tiny embedded one). */
export interface Tokenizer {
  readonly vocabSize: number;
  /** Token ids that end a generation (e.g. `<|im_end|>`, `<|endoftext|>`). */
  readonly eosIds: readonly number[];
  readonly padId: number;
  encode(text: string): number[];
  /**
   * `skipSpecialTokens` drops special tokens' text (HF's skip_special_tokens); tokenizers without specials ignore it.
   */
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** Renders messages with the model's chat template; absent when the model has none. */
  applyChatTemplate?(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;
}

export interface SamplingParams {
  maxNewTokens: number;
  /** 0 means greedy. */
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  /** Generation stops right after any of these strings appears in the new text; the string is kept. */
  stop?: string[];
  /** Extra ids that end generation besides the tokenizer's `eosIds`. */
  stopTokenIds?: number[];
  /**
   * Also report, for every new token, this many most likely tokens of the same distribution as
   * `logProbs` (before temperature). Only engines whose `maxTopLogprobs` is at least this honour it.
   */
  topLogprobs?: number;
}

/** One alternative at a position: a token id and its log-probability. */
export interface TopLogProb {
  id: number;
  logProb: number;
}

export type FinishReason = 'stop' | 'eos' | 'length' | 'abort';

export interface Completion {
  /** New token ids only (the prompt is not repeated). */
  tokenIds: number[];
  text: string;
  /** log p(token) under the sampling distribution's model (before temperature), one per token in `tokenIds`. */
  logProbs: number[];
  finishReason: FinishReason;
  /** The stop string that ended generation, when `finishReason === 'stop'`. */
  stopString?: string;
  /** Present when `topLogprobs` was asked: per token, the most likely tokens, most likely first (ties by id). */
  topLogProbs?: TopLogProb[][];
}

/** One token, reported by `generateStream` as soon as it is decoded. */
export interface TokenEvent {
  /** Index of the prompt in the call. */
  row: number;
  tokenId: number;
  logProb: number;
  topLogProbs?: TopLogProb[];
}

export interface GenerateOptions {
  signal?: AbortSignal;
  /**
   * One key per prompt that remote engines use to keep all turns of a trajectory
   * on the same endpoint (prefix-cache affinity). In-process engines ignore it.
   */
  affinityKeys?: string[];
  /**
   * One key per prompt (e.g. trajectory id and turn) from which in-process engines seed that row's
   * sampling stream, so a sample does not depend on which other prompts share its batch (the agent
   * loop's rounds are formed by tool timing). Without keys, rows are seeded by their position.
   */
  sampleKeys?: string[];
}

/** Turns prompts (token ids) into completions. In-process (a Policy) or remote (OpenAI-compatible). */
export interface RolloutEngine {
  readonly tokenizer: Tokenizer;
  /** prompts: one token-id array per sample; the result has the same length and order. */
  generate(prompts: number[][], params: SamplingParams, opts?: GenerateOptions): Promise<Completion[]>;
  /**
   * Optional streaming path: as `generate`, and `onToken` hears of every token while the batch is
   * still decoding (rows interleave; each row's tokens come in order, all before the promise
   * settles). The completions are those `generate` would return. Engines without it decode the
   * whole batch first: call `generateStreaming` (core), which falls back to `generate`.
   */
  generateStream?(
    prompts: number[][],
    params: SamplingParams,
    onToken: (e: TokenEvent) => void,
    opts?: GenerateOptions,
  ): Promise<Completion[]>;
  /** The most `topLogprobs` alternatives per token the engine reports; absent or 0: none. */
  readonly maxTopLogprobs?: number;
  /**
   * Remote engines: load the weights of an HF checkpoint folder the trainer just wrote (e.g.
   * SGLang's /update_weights_from_disk), so rollouts follow the policy being trained.
   */
  loadWeights?(checkpointDir: string): Promise<void>;
}

/**
 * A batch for log-prob computation / training. Sequences are right-padded to T.
 *   inputIds:      [B, T]
 *   attentionMask: [B, T]  1 for real tokens, 0 for padding
 */
export interface TokenBatch {
  inputIds: number[][];
  attentionMask: number[][];
}

/**
 * What the policy hands the loss function for one micro-batch, inside the gradient tape.
 *   logProbs: [b, T]  logProbs[i, t] = log p(inputIds[i, t] | inputIds[i, <t]); column 0 is 0.
 *   entropy:  [b, T]  entropy of the next-token distribution that produced position t (column 0 is 0);
 *                     only computed when `needEntropy` was asked for.
 *   rows:     indices of this micro-batch's rows in the full batch, so the loss can slice its own tensors.
 */
export interface PolicyForward {
  logProbs: tf.Tensor2D;
  entropy?: tf.Tensor2D;
  rows: number[];
}

export interface LossOutput {
  loss: tf.Scalar;
  /** Scalars to report, averaged over micro-batches by the policy. */
  metrics?: Record<string, tf.Scalar | number>;
}

export interface TrainStepOptions {
  /** Micro-batch size (rows) for gradient accumulation; the full batch when absent. */
  microBatchSize?: number;
  needEntropy?: boolean;
  /**
   * Learning rate for this step only, overriding the policy's own (the bootstrap stage pretrains
   * at a far higher rate than RL uses later on the same instance). Absent: the policy's rate.
   */
  lr?: number;
}

export interface TrainStepStats {
  loss: number;
  gradNorm: number;
  lr: number;
  step: number;
  tokens: number;
  metrics: Record<string, number>;
}

/**
 * A PPO-family loss as data, for trainers that compute it themselves in one round trip (the fused
 * path of `policy/torch`). Rows follow the batch's right-padded [B, T] layout; column t is token t.
 *   loss = Σ w·L + klCoef · Σ w·kl(logp, ref) - entropyCoef · Σ w·H
 *   L = max(-A r, -A clip(r, 1 - clipLow_i, 1 + clipHigh_i)); dual clip c for A < 0: min(L, -A c)
 *   r = exp(clamp(logp - old, ±20)) per token, or GSPO's sequence ratio (ratio: 'gspo')
 */
export interface FusedLossSpec {
  advantages: Float32Array[];
  oldLogProbs: Float32Array[];
  /** Reference log-probs, present when a KL loss is part of the objective. */
  refLogProbs?: Float32Array[];
  /** Aggregation weights per token (the aggregator's normaliser folded in); 0 off the response mask. */
  weights: Float64Array[];
  /** 1 on trained tokens. */
  mask: number[][];
  /** ε_low and ε_high of each row. */
  clipLow: number[];
  clipHigh: number[];
  ratio: 'token' | 'gspo';
  clipRatioC: number | null;
  /** A kl/<type> name (k1, abs, k2, mse, k3, low_var_kl, with '+' for straight-through); null: no KL term. */
  klType: string | null;
  klCoef: number;
  entropyCoef: number;
}

/** Training by a FusedLossSpec instead of a loss closure (one round trip to a remote trainer). */
export interface FusedTraining {
  /**
   * 'fused': rlStep must use it (a component that cannot describe itself is an error); 'auto': when every component
   * can.
   */
  readonly mode: 'fused' | 'auto';
  /**
   * One optimizer step. Metrics carry the loss's names (pg_loss, pg_clipfrac_*, ratio_*, ppo_kl, entropy, kl_loss,
   * ...).
   */
  trainStep(batch: TokenBatch, loss: FusedLossSpec, opts?: TrainStepOptions): Promise<TrainStepStats>;
}

/**
 * A trainable causal LM. Every tensor it creates inside `trainStep` is disposed before it returns.
 */
export interface Policy extends RolloutEngine {
  /** Present when the policy can also train from a FusedLossSpec (rlStep then skips the loss closure). */
  readonly fused?: FusedTraining;
  /** Human-readable description (architecture, parameter count, backend) for logs and reports. */
  describe(): Record<string, unknown>;
  /** log p(token_t | tokens_<t) without gradients: one Float32Array of length T per row (column 0 is 0). */
  computeLogProbs(batch: TokenBatch, opts?: { microBatchSize?: number }): Promise<Float32Array[]>;
  /**
   * One optimizer step: the loss function is called once per micro-batch inside the tape,
   * gradients are accumulated (weighted by the micro-batch's share of rows), clipped and applied.
   */
  trainStep(
    batch: TokenBatch,
    lossFn: (fwd: PolicyForward) => LossOutput,
    opts?: TrainStepOptions,
  ): Promise<TrainStepStats>;
  /** A frozen copy of the current weights (for KL against a reference). */
  snapshot(): Promise<Policy>;
  save(dir: string): Promise<void>;
  load(dir: string): Promise<void>;
  dispose(): void | Promise<void>;
}
