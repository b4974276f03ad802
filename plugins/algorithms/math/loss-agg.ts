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

/**
 * The weights w with aggregateLoss(mode, L, mask, opts) = Σ_it w_it · L_it (every mode is linear in
 * the token losses): what a remote trainer multiplies its token losses by (the fused path).
 * mask: [B][T] rows; returns [B][T] rows, 0 off the mask.
 */
export function aggregationWeights(mode: LossAggMode, mask: readonly (readonly number[])[], opts: AggregateOptions = {}): Float64Array[] {
  const B = mask.length;
  const T = mask[0]?.length ?? 0;
  const seqs = Math.max(opts.norm?.seqs ?? B, 1);
  const counts = mask.map((row) => row.reduce((a, v) => a + (v > 0 ? 1 : 0), 0));
  const tokens = Math.max(opts.norm?.tokens ?? counts.reduce((a, v) => a + v, 0), 1);
  return mask.map((row, i) => {
    let w: number;
    switch (mode) {
      case 'token-mean': w = 1 / tokens; break;
      case 'seq-mean-token-sum': w = 1 / seqs; break;
      case 'seq-mean-token-mean': w = 1 / (Math.max(counts[i] as number, 1) * seqs); break;
      case 'seq-mean-token-sum-norm': w = 1 / (seqs * (opts.horizon ?? T)); break;
      default: throw new Error(`unknown loss aggregation '${mode as string}'; supported: ${LOSS_AGG_MODES.join(', ')}`);
    }
    return Float64Array.from(row, (v) => (v > 0 ? w : 0));
  });
}
