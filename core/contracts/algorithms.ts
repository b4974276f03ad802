import type * as tf from '@tensorflow/tfjs-core';
import type { FieldColumns } from './fields.js';

/**
 * rewards:      [B]     one scalar per sample
 * groupIds:     [B]     samples of the same prompt share an id
 * responseMask: [B, T]  1 on trained (model) tokens, 0 on prompt, padding and observations
 * fields:       per-sample columns (e.g. selfConsistency), checked against `requiredFields`
 */
export interface AdvantageInput {
  rewards: Float32Array;
  groupIds: readonly string[];
  responseMask: tf.Tensor2D;
  fields: FieldColumns;
  /** Discount for return-based estimators (REINFORCE++). */
  gamma?: number;
}

export interface AdvantageEstimator {
  readonly requiredFields: readonly string[];
  /** → advantages [B, T], zero where the mask is zero. */
  compute(input: AdvantageInput): tf.Tensor2D;
}

/**
 * Normalisers of the whole (mini-)batch, so that a micro-batch's aggregate is its exact share of the
 * batch loss (token-mean over all tokens of the batch, not a mean of per-micro-batch means).
 */
export interface AggregateNorm {
  /** Masked tokens in the whole batch (token-mean). */
  tokens?: number;
  /** Rows of the whole batch with at least one masked token (seq-mean-*; as verl, empty rows are not counted). */
  seqs?: number;
}

/** Reduces a per-token loss matrix [B, T] under a mask [B, T] to a scalar. */
export interface LossAggregator {
  /** Without `norm` the batch given is the whole batch. */
  aggregate(lossMat: tf.Tensor2D, mask: tf.Tensor2D, norm?: AggregateNorm): tf.Scalar;
  /**
   * The per-token weights w with aggregate(L, mask, norm) = Σ w·L, for aggregators linear in the
   * token losses (all built-ins): lets a remote trainer aggregate (the fused path). Rows of [B][T].
   */
  weights?(mask: readonly (readonly number[])[], norm?: AggregateNorm): Float64Array[];
}

/**
 * logProbs / oldLogProbs / advantages / responseMask: [B, T]
 * fields: per-sample columns as tensors [B]
 */
export interface PolicyLossInput {
  logProbs: tf.Tensor2D;
  oldLogProbs: tf.Tensor2D;
  advantages: tf.Tensor2D;
  responseMask: tf.Tensor2D;
  fields: Record<string, tf.Tensor1D>;
  aggregator: LossAggregator;
  /** [B, T] entropy of the policy, when the loss adds an entropy bonus. */
  entropy?: tf.Tensor2D;
}

export interface PolicyLossOutput {
  loss: tf.Scalar;
  /**
   * clip fractions (low/high), approx KL, ratio stats, ... as scalars. rlStep combines them over
   * micro-batches by name: `*_loss` add up (normalised by the whole batch), `*_min` / `*_max` take the
   * extreme, anything else is read as a masked token mean and weighted by tokens.
   */
  metrics: Record<string, tf.Scalar>;
}

/** What a PPO-family loss is, as data (the fused path): bounds per row, ratio kind, entropy bonus. */
export interface PolicyLossWire {
  ratio: 'token' | 'gspo';
  clipLow: number[];
  clipHigh: number[];
  clipRatioC: number | null;
  entropyCoef: number;
  /** The metric names compute() reports besides pg_loss and entropy (the trainer computes them too). */
  metrics: string[];
}

export interface PolicyLoss {
  readonly requiredFields: readonly string[];
  compute(input: PolicyLossInput): PolicyLossOutput;
  /**
   * Describes this loss for `rows` samples with these field columns; absent when it cannot be (then rlStep runs
   * compute()).
   */
  wire?(fields: Readonly<Record<string, Float32Array>>, rows: number): PolicyLossWire;
}

/** Per-token KL estimate between the policy and a reference: [B, T] → [B, T]. */
export interface KlPenalty {
  compute(logProbs: tf.Tensor2D, refLogProbs: tf.Tensor2D): tf.Tensor2D;
  /** Its kl/<type> name, when a trainer can compute it itself (fused path). */
  readonly wireType?: string;
}
