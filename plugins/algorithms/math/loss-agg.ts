import * as tf from '@tensorflow/tfjs';
import type { AggregateNorm } from '../../../core/index.js';
import { applyMask } from './masked.js';

export const LOSS_AGG_MODES = ['token-mean', 'seq-mean-token-sum', 'seq-mean-token-mean', 'seq-mean-token-sum-norm'] as const;
export type LossAggMode = (typeof LOSS_AGG_MODES)[number];

export interface AggregateOptions {
  /** Whole-batch normalisers when `lossMat` is one micro-batch of it. */
  norm?: AggregateNorm;
  /** seq-mean-token-sum-norm: the constant length C (Dr. GRPO: the generation budget); default T of the mask. */
  horizon?: number | null;
}

/**
 * lossMat, mask: [B, T] → scalar. With N = Σ m (or norm.tokens), S = B (or norm.seqs), n_i = Σ_t m_it:
 *   token-mean:              Σ_it l·m / N
 *   seq-mean-token-sum:      Σ_i (Σ_t l·m) / S
 *   seq-mean-token-mean:     Σ_i (Σ_t l·m / max(n_i, 1)) / S     (rows without tokens add 0)
 *   seq-mean-token-sum-norm: Σ_i (Σ_t l·m) / (S · C)
 */
export function aggregateLoss(mode: LossAggMode, lossMat: tf.Tensor2D, mask: tf.Tensor2D, opts: AggregateOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const [B, T] = mask.shape;
    const seqs = opts.norm?.seqs ?? B;
    const lm = applyMask(lossMat, mask);
    switch (mode) {
      case 'token-mean': {
        const tokens = opts.norm?.tokens !== undefined ? tf.scalar(opts.norm.tokens) : tf.sum(mask);
        return tf.div(tf.sum(lm), tf.maximum(tokens, 1)) as tf.Scalar;
      }
      case 'seq-mean-token-sum':
        return tf.div(tf.sum(lm), Math.max(seqs, 1)) as tf.Scalar;
      case 'seq-mean-token-mean': {
        const perSeq = tf.div(tf.sum(lm, 1), tf.maximum(tf.sum(mask, 1), 1));
        return tf.div(tf.sum(perSeq), Math.max(seqs, 1)) as tf.Scalar;
      }
      case 'seq-mean-token-sum-norm': {
        const c = opts.horizon ?? T;
        return tf.div(tf.sum(lm), Math.max(seqs, 1) * c) as tf.Scalar;
      }
      default:
        throw new Error(`unknown loss aggregation '${mode as string}'; supported: ${LOSS_AGG_MODES.join(', ')}`);
    }
  });
}
