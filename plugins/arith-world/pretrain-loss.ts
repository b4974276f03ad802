import * as tf from '@tensorflow/tfjs';
import type { LossOutput, PolicyForward } from '../../core/index.js';

/**
 * Next-token cross-entropy on the completion tokens, averaged over the micro-batch's masked tokens:
 *   loss = -Σ_{i,t} m[i,t] · logp[i,t] / max(1, Σ m)
 * lossMask: [B, T] for the full batch (1 where position t's token is trained); the policy hands
 * `fwd.logProbs` [b, T] for rows `fwd.rows`, with logp[i,t] = log p(x_t | x_<t).
 */
export function nextTokenLoss(lossMask: readonly (readonly number[])[]): (fwd: PolicyForward) => LossOutput {
  return (fwd) => {
    const T = fwd.logProbs.shape[1];
    const rows = fwd.rows.map((r) => {
      const m = lossMask[r];
      if (!m) throw new RangeError(`loss mask has no row ${r}`);
      if (m.length !== T) throw new RangeError(`loss mask row ${r} has ${m.length} columns, logProbs ${T}`);
      return m as number[];
    });
    const mask = tf.tensor2d(rows, [rows.length, T], 'float32');
    const count = rows.reduce((s, r) => s + r.reduce((a, b) => a + b, 0), 0);
    const loss = tf.div(tf.neg(tf.sum(tf.mul(fwd.logProbs, mask))), Math.max(1, count)) as tf.Scalar;
    return { loss, metrics: { tokens: count } };
  };
}
