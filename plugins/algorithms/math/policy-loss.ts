import * as tf from '@tensorflow/tfjs';
import { ADPO_DEFAULTS } from './adpo-defaults.js';
import { applyMask, maskedMax, maskedMean, maskedMin, tidyResult } from './masked.js';

/*
 * Token-level policy-gradient losses. logp, oldLogp, adv, mask: [B, T]. Each returns the per-token
 * loss matrix (aggregated by the caller's LossAggregator) and metric scalars.
 */

export interface ClipBounds {
  /** ratio is clipped below at 1 - clipLow. */
  clipLow: number;
  /** ratio is clipped above at 1 + clipHigh; one number per row gives each row its own bound (ADPO). */
  clipHigh: number | ArrayLike<number>;
  /** Dual clip (A < 0): the loss is capped at -A · c; null / undefined disables it. */
  clipRatioC?: number | null;
}

export interface TokenLoss {
  lossMat: tf.Tensor2D;
  metrics: Record<string, tf.Scalar>;
}

// 1 + ε is formed in float64 before it becomes float32, so a per-row ε equal to a scalar ε gives the same bound bit for
// bit.
function upperBound(clipHigh: number | ArrayLike<number>, B: number): number | tf.Tensor {
  if (typeof clipHigh === 'number') return 1 + clipHigh;
  if (clipHigh.length !== B) throw new Error(`clipHigh has ${clipHigh.length} rows, batch ${B}`);
  return tf.tensor2d(
    Array.from(clipHigh, (h) => 1 + h),
    [B, 1],
    'float32',
  );
}

/**
 * Clipped surrogate given the ratio r:
 *   L = max(-A r, -A clip(r, 1 - clipLow, 1 + clipHigh)), and with dual clip, for A < 0: min(L, -A c).
 * Metrics (masked token fractions): pg_clipfrac_high (A > 0, r above the band), pg_clipfrac_low
 * (A < 0, r below the band), pg_clipfrac_dual; ratio_mean/min/max.
 */
export function clippedSurrogate(ratio: tf.Tensor2D, adv: tf.Tensor2D, mask: tf.Tensor2D, b: ClipBounds): TokenLoss {
  return tidyResult(() => {
    const B = ratio.shape[0];
    const hi = upperBound(b.clipHigh, B);
    const clipped = tf.minimum(tf.maximum(ratio, 1 - b.clipLow), hi);
    const l1 = tf.mul(tf.neg(adv), ratio);
    const l2 = tf.mul(tf.neg(adv), clipped);
    let lossMat = tf.maximum(l1, l2);
    const clipActive = tf.greater(l2, l1);
    const pos = tf.greater(adv, 0),
      neg = tf.less(adv, 0);
    const metrics: Record<string, tf.Scalar> = {
      pg_clipfrac_high: maskedMean(tf.cast(tf.logicalAnd(clipActive, pos), 'float32'), mask),
      pg_clipfrac_low: maskedMean(tf.cast(tf.logicalAnd(clipActive, neg), 'float32'), mask),
    };
    if (b.clipRatioC !== undefined && b.clipRatioC !== null) {
      if (!(b.clipRatioC > 1)) throw new Error(`clip_ratio_c must be > 1, got ${b.clipRatioC}`);
      const l3 = tf.mul(tf.neg(adv), b.clipRatioC);
      const dual = tf.logicalAnd(neg, tf.greater(lossMat, l3));
      metrics.pg_clipfrac_dual = maskedMean(tf.cast(dual, 'float32'), mask);
      lossMat = tf.where(neg, tf.minimum(lossMat, l3), lossMat);
    } else {
      metrics.pg_clipfrac_dual = tf.scalar(0);
    }
    metrics.ratio_mean = maskedMean(ratio, mask);
    metrics.ratio_min = maskedMin(ratio, mask);
    metrics.ratio_max = maskedMax(ratio, mask);
    return { lossMat: lossMat as tf.Tensor2D, metrics };
  });
}

/** Bound on |logp - oldLogp| before exp (as VeRL): keeps the ratio finite in float32. */
export const LOG_RATIO_BOUND = 20;

/** r = exp(clamp(logp - oldLogp, ±20)) on the mask, 1 off it (so padding can never overflow). */
export function tokenRatio(logp: tf.Tensor2D, oldLogp: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(
    () =>
      tf.exp(applyMask(tf.clipByValue(tf.sub(logp, oldLogp), -LOG_RATIO_BOUND, LOG_RATIO_BOUND), mask)) as tf.Tensor2D,
  );
}

/** Approximate KL(π_old ‖ π) as the masked mean of oldLogp - logp. */
export function approxKl(logp: tf.Tensor2D, oldLogp: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => maskedMean(tf.sub(oldLogp, logp), mask));
}

/** Vanilla PPO clip (separate low/high clip, optional dual clip); DAPO's clip-higher is clipHigh > clipLow. */
export function ppoClipLoss(
  logp: tf.Tensor2D,
  oldLogp: tf.Tensor2D,
  adv: tf.Tensor2D,
  mask: tf.Tensor2D,
  b: ClipBounds,
): TokenLoss {
  return tidyResult(() => {
    const out = clippedSurrogate(tokenRatio(logp, oldLogp, mask), adv, mask, b);
    out.metrics.ppo_kl = approxKl(logp, oldLogp, mask);
    return out;
  });
}

/** GSPO's sequence log-ratio: Σ_t m (logp - oldLogp) / max(Σ_t m, 1) → [B]. */
export function gspoLogRatio(logp: tf.Tensor2D, oldLogp: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(
    () => tf.div(tf.sum(applyMask(tf.sub(logp, oldLogp), mask), 1), tf.maximum(tf.sum(mask, 1), 1)) as tf.Tensor1D,
  );
}

/** GSPO's sequence ratio s_i = exp(mean_t log-ratio) → [B]: one number per sequence. */
export function gspoSequenceRatio(logp: tf.Tensor2D, oldLogp: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.exp(tf.minimum(gspoLogRatio(logp, oldLogp, mask), 10)) as tf.Tensor1D);
}

/**
 * Token view of the GSPO ratio: s_{i,t} = sg[s_i] · π(y_t)/sg[π(y_t)], i.e. the value of s_i on every
 * token of row i and a gradient of s_i · ∂logp_t on each masked token (none on masked-out ones).
 * The log-ratio is capped at 10 before exp, as the sequence ratio is.
 */
const gspoTokenLogRatio = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [logp, oldLogp, mask] = args as tf.Tensor2D[];
  (args[3] as tf.GradSaveFunc)([mask]);
  const B = logp.shape[0];
  const seq = gspoLogRatio(logp, oldLogp, mask);
  return {
    value: tf.mul(tf.reshape(seq, [B, 1]), tf.onesLike(logp)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [applyMask(dy, saved[0]), tf.zerosLike(dy), tf.zerosLike(dy)],
  };
});

export function gspoTokenRatio(logp: tf.Tensor2D, oldLogp: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.exp(tf.minimum(gspoTokenLogRatio(logp, oldLogp, mask), 10)) as tf.Tensor2D);
}

/** GSPO: the clipped surrogate on the sequence ratio (its clip is typically tiny: 3e-4 / 4e-4). */
export function gspoLoss(
  logp: tf.Tensor2D,
  oldLogp: tf.Tensor2D,
  adv: tf.Tensor2D,
  mask: tf.Tensor2D,
  b: ClipBounds,
): TokenLoss {
  return tidyResult(() => {
    const out = clippedSurrogate(gspoTokenRatio(logp, oldLogp, mask), adv, mask, b);
    out.metrics.ppo_kl = approxKl(logp, oldLogp, mask);
    return out;
  });
}

export interface AdpoClipOptions {
  /** Symmetric base clip ε (lower clip is always 1 - ε). */
  clipRatio?: number;
  /** b: the largest extra upper clip, reached at s ≤ s_lo. */
  clipHighBoost?: number;
  sLo?: number;
  sHi?: number;
  /**
   * 'linear' (public code): ε + b·clip((s_hi - s)/(s_hi - s_lo), 0, 1); 'inverse' (paper, ε_high ∝ 1/s): ε · s_hi /
   * clip(s, s_lo, s_hi).
   */
  form?: 'linear' | 'inverse';
  /** Dual clip c > 1 for A < 0 (null / undefined: off, as in Agent0). */
  clipRatioC?: number | null;
}

/** ADPO's per-sample upper clip ε_high(s); equals ε exactly for s ≥ s_hi in both forms. */
export function adpoClipHigh(s: number, opts: AdpoClipOptions = {}): number {
  const d = ADPO_DEFAULTS;
  const { clipRatio = d.clipRatio, clipHighBoost = d.clipHighBoost, sLo = d.sLo, sHi = d.sHi, form = d.form } = opts;
  if (form === 'inverse') return clipRatio * (sHi / Math.min(sHi, Math.max(sLo, s)));
  return clipRatio + clipHighBoost * Math.min(1, Math.max(0, (sHi - s) / (sHi - sLo)));
}

/** ADPO: PPO clip with lower bound 1 - ε and a per-row upper bound 1 + ε_high(s_i). */
export function adpoLoss(
  logp: tf.Tensor2D,
  oldLogp: tf.Tensor2D,
  adv: tf.Tensor2D,
  mask: tf.Tensor2D,
  selfConsistency: ArrayLike<number>,
  opts: AdpoClipOptions = {},
): TokenLoss {
  return tidyResult(() => {
    const hi = Array.from(selfConsistency, (s) => adpoClipHigh(s, opts));
    const out = ppoClipLoss(logp, oldLogp, adv, mask, {
      clipLow: opts.clipRatio ?? ADPO_DEFAULTS.clipRatio,
      clipHigh: hi,
      clipRatioC: opts.clipRatioC ?? null,
    });
    // A masked token mean (like every other non-extreme metric), so micro-batches combine exactly.
    out.metrics.clip_high_mean = maskedMean(tf.mul(tf.tensor2d(hi, [hi.length, 1]), tf.onesLike(mask)), mask);
    return out;
  });
}
