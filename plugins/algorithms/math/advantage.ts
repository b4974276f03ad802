import * as tf from '@tensorflow/tfjs';
import { ADPO_DEFAULTS } from './adpo-defaults.js';
import { maskedWhitenRows, maskRows } from './masked.js';

/*
 * Outcome-reward advantage estimators. Inputs: rewards [B], groupIds [B], responseMask [B, T].
 * Group statistics are computed in float64; the result is a float32 tensor [B, T], 0 off the mask.
 */

export interface GroupStats {
  /** Per row: its group's mean, unbiased std and size. A group of one has mean 0, std 1. */
  mean: Float64Array;
  std: Float64Array;
  size: Int32Array;
}

export function groupStats(rewards: ArrayLike<number>, groupIds: readonly string[]): GroupStats {
  if (groupIds.length !== rewards.length)
    throw new Error(`groupIds has ${groupIds.length} entries, rewards ${rewards.length}`);
  const members = new Map<string, number[]>();
  groupIds.forEach((g, i) => {
    const m = members.get(g);
    if (m) m.push(i);
    else members.set(g, [i]);
  });
  const B = rewards.length;
  const out: GroupStats = { mean: new Float64Array(B), std: new Float64Array(B), size: new Int32Array(B) };
  for (const rows of members.values()) {
    const n = rows.length;
    let mean = 0,
      std = 1;
    if (n > 1) {
      mean = rows.reduce((a, i) => a + rewards[i], 0) / n;
      std = Math.sqrt(rows.reduce((a, i) => a + (rewards[i] - mean) ** 2, 0) / (n - 1));
    }
    for (const i of rows) {
      out.mean[i] = mean;
      out.std[i] = std;
      out.size[i] = n;
    }
  }
  return out;
}

/** scores[i] on every masked position of row i: [B] → [B, T]. */
export function broadcastScores(scores: ArrayLike<number>, mask: tf.Tensor2D): tf.Tensor2D {
  // `where`, not a product: a negative score times mask 0 would give -0 off the mask.
  return tf.tidy(() => {
    const full = tf.mul(tf.tensor2d(Array.from(scores), [scores.length, 1], 'float32'), tf.onesLike(mask));
    return tf.where(tf.greater(mask, 0), full, tf.zerosLike(full)) as tf.Tensor2D;
  });
}

export interface GrpoOptions {
  /** Divide by the group std (GRPO) or not (Dr. GRPO). */
  normByStd?: boolean;
  epsilon?: number;
}

/** GRPO: A_i = (r_i - mean_g) / (std_g + eps), or r_i - mean_g without std normalisation. */
export function grpoScores(
  rewards: ArrayLike<number>,
  groupIds: readonly string[],
  opts: GrpoOptions = {},
): Float64Array {
  const { normByStd = true, epsilon = 1e-6 } = opts;
  const g = groupStats(rewards, groupIds);
  return Float64Array.from(rewards, (r, i) => (normByStd ? (r - g.mean[i]) / (g.std[i] + epsilon) : r - g.mean[i]));
}

export function grpoAdvantage(
  rewards: ArrayLike<number>,
  groupIds: readonly string[],
  mask: tf.Tensor2D,
  opts: GrpoOptions = {},
): tf.Tensor2D {
  return broadcastScores(grpoScores(rewards, groupIds, opts), mask);
}

/** RLOO: A_i = r_i - mean_{j≠i} r_j = n/(n-1) · (r_i - mean_g); a group of one keeps r_i (baseline 0). */
export function rlooScores(rewards: ArrayLike<number>, groupIds: readonly string[]): Float64Array {
  const g = groupStats(rewards, groupIds);
  return Float64Array.from(rewards, (r, i) => (g.size[i] > 1 ? (g.size[i] / (g.size[i] - 1)) * (r - g.mean[i]) : r));
}

export function rlooAdvantage(rewards: ArrayLike<number>, groupIds: readonly string[], mask: tf.Tensor2D): tf.Tensor2D {
  return broadcastScores(rlooScores(rewards, groupIds), mask);
}

export interface AdpoScaleOptions {
  sLo?: number;
  sHi?: number;
  aMin?: number;
}

function unitClip(x: number): number {
  return Math.min(1, Math.max(0, x));
}

/**
 * ADPO advantage scale: a_min + (1 - a_min) · clip((s - s_lo)/(s_hi - s_lo), 0, 1), written as
 * 1 - (1 - a_min)(1 - c) so that s ≥ s_hi gives exactly 1 (ADPO = GRPO there).
 */
export function adpoScale(s: number, opts: AdpoScaleOptions = {}): number {
  const { sLo = ADPO_DEFAULTS.sLo, sHi = ADPO_DEFAULTS.sHi, aMin = ADPO_DEFAULTS.aMin } = opts;
  const c = unitClip((s - sLo) / (sHi - sLo));
  return 1 - (1 - aMin) * (1 - c);
}

/** ADPO: GRPO advantage of each sample times adpoScale(its task's self-consistency). */
export function adpoAdvantage(
  rewards: ArrayLike<number>,
  groupIds: readonly string[],
  mask: tf.Tensor2D,
  selfConsistency: ArrayLike<number>,
  opts: GrpoOptions & AdpoScaleOptions = {},
): tf.Tensor2D {
  const a = grpoScores(rewards, groupIds, opts);
  return broadcastScores(
    a.map((v, i) => v * adpoScale(selfConsistency[i], opts)),
    mask,
  );
}

/** What the discounted return does at tokens off the mask (see discountedReturnRows). */
export type MaskedReturn = 'skip' | 'reset';

/**
 * Discounted returns of an outcome reward placed on the last model token of each row.
 *   'skip' (default): tokens off the mask (observations in the middle of a multi-turn response, prompt,
 *     padding) carry no reward, are not counted as steps, and pass the return through unchanged:
 *     G_t = γ^(model tokens after t) · r on the mask, 0 off it.
 *   'reset' (VeRL): the running return is zeroed at every token off the mask, so every model token
 *     before an observation gets return 0 (only the last turn sees the reward).
 */
export function discountedReturnRows(
  rewards: ArrayLike<number>,
  mask: number[][],
  gamma = 1,
  atMasked: MaskedReturn = 'skip',
): number[][] {
  return mask.map((row, i) => {
    const out = new Array<number>(row.length).fill(0);
    const last = row.findLastIndex((v) => v > 0);
    let g = 0;
    for (let t = row.length - 1; t >= 0; t--) {
      if (row[t] <= 0) {
        if (atMasked === 'reset') g = 0;
        continue;
      }
      g = (t === last ? rewards[i] : 0) + gamma * g;
      out[t] = g;
    }
    return out;
  });
}

/** REINFORCE++: discounted returns, whitened over all masked tokens of the batch. */
export function reinforcePlusPlusAdvantage(
  rewards: ArrayLike<number>,
  mask: tf.Tensor2D,
  opts: { gamma?: number; epsilon?: number; atMasked?: MaskedReturn } = {},
): tf.Tensor2D {
  const m = maskRows(mask);
  const w = maskedWhitenRows(
    discountedReturnRows(rewards, m, opts.gamma ?? 1, opts.atMasked ?? 'skip'),
    m,
    opts.epsilon ?? 1e-8,
  );
  return tf.tensor2d(w, mask.shape, 'float32');
}

/** REINFORCE++-baseline: (r_i - mean_g) on every model token, whitened over all masked tokens of the batch. */
export function reinforcePlusPlusBaselineAdvantage(
  rewards: ArrayLike<number>,
  groupIds: readonly string[],
  mask: tf.Tensor2D,
  opts: { epsilon?: number } = {},
): tf.Tensor2D {
  const g = groupStats(rewards, groupIds);
  const m = maskRows(mask);
  const x = m.map((row, i) => row.map(() => rewards[i] - g.mean[i]));
  return tf.tensor2d(maskedWhitenRows(x, m, opts.epsilon ?? 1e-8), mask.shape, 'float32');
}
