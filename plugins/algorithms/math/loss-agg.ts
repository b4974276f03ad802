import * as tf from '@tensorflow/tfjs';
import type { AggregateNorm } from '../../../core/index.js';
import { applyMask } from './masked.js';

export const LOSS_AGG_MODES = [
  'token-mean',
  'seq-mean-token-sum',
  'seq-mean-token-mean',
  'seq-mean-token-sum-norm',
] as const;
export type LossAggMode = (typeof LOSS_AGG_MODES)[number];

export interface AggregateOptions {
  /** Whole-batch normalisers when `lossMat` is one micro-batch of it. */
  norm?: AggregateNorm;
  /**
   * seq-mean-token-sum-norm: the constant C (verl's loss_scale_factor; Dr. GRPO: the generation budget); default T of
   * the mask.
   */
  horizon?: number | null;
}

/** Rows of a [B][T] mask with at least one masked-in token. */
export function rowsWithTokens(mask: readonly (readonly number[])[]): number {
  return mask.reduce((a, row) => a + (row.some((v) => v > 0) ? 1 : 0), 0);
}

/**
 * lossMat, mask: [B, T] → scalar, as verl's agg_loss. With N = Σ m (or norm.tokens), n_i = Σ_t m_it,
 * S = the rows with n_i > 0 (or norm.seqs):
 *   token-mean:              Σ_it l·m / N
 *   seq-mean-token-sum:      Σ_i (Σ_t l·m) / S
 *   seq-mean-token-mean:     Σ_{i: n_i > 0} (Σ_t l·m / n_i) / S
 *   seq-mean-token-sum-norm: Σ_it l·m / C        (no division by the rows: verl's definition)
 * A row without response tokens adds nothing and is not counted in S (verl excludes it from the mean).
 */
export function aggregateLoss(
  mode: LossAggMode,
  lossMat: tf.Tensor2D,
  mask: tf.Tensor2D,
  opts: AggregateOptions = {},
): tf.Scalar {
  return tf.tidy(() => {
    const T = mask.shape[1];
    const lm = applyMask(lossMat, mask);
    const counts = tf.sum(tf.cast(tf.greater(mask, 0), 'float32'), 1);
    const seqs = () =>
      opts.norm?.seqs !== undefined ? tf.scalar(opts.norm.seqs) : tf.sum(tf.cast(tf.greater(counts, 0), 'float32'));
    switch (mode) {
      case 'token-mean': {
        const tokens = opts.norm?.tokens !== undefined ? tf.scalar(opts.norm.tokens) : tf.sum(mask);
        return tf.div(tf.sum(lm), tf.maximum(tokens, 1)) as tf.Scalar;
      }
      case 'seq-mean-token-sum':
        return tf.div(tf.sum(lm), tf.maximum(seqs(), 1)) as tf.Scalar;
      case 'seq-mean-token-mean': {
        const perSeq = tf.div(tf.sum(lm, 1), tf.maximum(counts, 1));
        return tf.div(tf.sum(perSeq), tf.maximum(seqs(), 1)) as tf.Scalar;
      }
      case 'seq-mean-token-sum-norm':
        return tf.div(tf.sum(lm), opts.horizon ?? T) as tf.Scalar;
      default:
        throw new Error(`unknown loss aggregation '${mode as string}'; supported: ${LOSS_AGG_MODES.join(', ')}`);
    }
  });
}

/**
 * The weights w with aggregateLoss(mode, L, mask, opts) = Σ_it w_it · L_it (every mode is linear in
 * the token losses): what a remote trainer multiplies its token losses by (the fused path).
 * mask: [B][T] rows; returns [B][T] rows, 0 off the mask.
 */
export function aggregationWeights(
  mode: LossAggMode,
  mask: readonly (readonly number[])[],
  opts: AggregateOptions = {},
): Float64Array[] {
  const T = mask[0]?.length ?? 0;
  const counts = mask.map((row) => row.reduce((a, v) => a + (v > 0 ? 1 : 0), 0));
  const seqs = Math.max(opts.norm?.seqs ?? rowsWithTokens(mask), 1);
  const tokens = Math.max(opts.norm?.tokens ?? counts.reduce((a, v) => a + v, 0), 1);
  return mask.map((row, i) => {
    let w: number;
    switch (mode) {
      case 'token-mean':
        w = 1 / tokens;
        break;
      case 'seq-mean-token-sum':
        w = 1 / seqs;
        break;
      case 'seq-mean-token-mean':
        w = 1 / (Math.max(counts[i] as number, 1) * seqs);
        break;
      case 'seq-mean-token-sum-norm':
        w = 1 / (opts.horizon ?? T);
        break;
      default:
        throw new Error(`unknown loss aggregation '${mode as string}'; supported: ${LOSS_AGG_MODES.join(', ')}`);
    }
    return Float64Array.from(row, (v) => (v > 0 ? w : 0));
  });
}
