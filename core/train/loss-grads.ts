import * as tf from '@tensorflow/tfjs';
import type { LossOutput, PolicyForward } from '../contracts/policy.js';

/** What a loss closure gives for one micro-batch evaluated on log-probs computed elsewhere. */
export interface LossGradients {
  /** The loss value, times `share`. */
  value: number;
  /** d value / d logProbs, [rows × T] row-major. */
  dlp: Float32Array;
  /** d value / d entropy, when the entropy was given. */
  dent?: Float32Array;
  metrics: Record<string, number>;
}

/**
 * Runs a Policy.trainStep loss closure on log-probs (and entropy) that another engine computed —
 * worker threads, a remote trainer — and returns its gradient with respect to them: what that
 * engine back-propagates through its copy of the model (d loss / d θ = Σ dlp · d logp / d θ).
 * lp, ent: [rows.length × T] row-major; `share` scales the loss (the micro-batch's share of rows).
 */
export function lossGradients(
  lp: Float32Array,
  ent: Float32Array | undefined,
  rows: number[],
  T: number,
  share: number,
  lossFn: (fwd: PolicyForward) => LossOutput,
): LossGradients {
  const n = rows.length;
  const lpVar = tf.tidy(() => tf.variable(tf.tensor2d(lp, [n, T]), true));
  const entVar = ent ? tf.tidy(() => tf.variable(tf.tensor2d(ent, [n, T]), true)) : undefined;
  const kept: Record<string, tf.Scalar | number> = {};
  try {
    const { value, grads } = tf.variableGrads(
      () => {
        const out = lossFn({
          logProbs: lpVar as unknown as tf.Tensor2D,
          ...(entVar ? { entropy: entVar as unknown as tf.Tensor2D } : {}),
          rows,
        });
        for (const [k, m] of Object.entries(out.metrics ?? {})) kept[k] = typeof m === 'number' ? m : tf.keep(m);
        return tf.mul(out.loss, share) as tf.Scalar;
      },
      entVar ? [lpVar, entVar] : [lpVar],
    );
    const v = value.dataSync()[0] as number;
    value.dispose();
    const read = (x: tf.Variable): Float32Array => {
      const g = grads[x.name];
      return g ? (g.dataSync() as Float32Array).slice() : new Float32Array(n * T);
    };
    const dlp = read(lpVar);
    const dent = entVar ? read(entVar) : undefined;
    for (const g of Object.values(grads)) g.dispose();
    const metrics: Record<string, number> = {};
    for (const [k, m] of Object.entries(kept)) metrics[k] = typeof m === 'number' ? m : (m.dataSync()[0] as number);
    return { value: v, dlp, ...(dent ? { dent } : {}), metrics };
  } finally {
    for (const m of Object.values(kept)) if (typeof m !== 'number') m.dispose();
    lpVar.dispose();
    entVar?.dispose();
  }
}
