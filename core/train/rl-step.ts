import * as tf from '@tensorflow/tfjs';
import type { AdvantageEstimator, KlPenalty, LossAggregator, PolicyLoss } from '../contracts/algorithms.js';
import { fieldColumns } from '../contracts/fields.js';
import type { Policy, TokenBatch } from '../contracts/policy.js';
import type { Trajectory } from '../contracts/rollout.js';

export interface RlStepInput {
  policy: Policy;
  /** Frozen reference for the KL term; required when `kl` is given. */
  reference?: Policy;
  trajectories: readonly Trajectory[];
  rewards: readonly number[];
  advantage: AdvantageEstimator;
  loss: PolicyLoss;
  aggregator: LossAggregator;
  kl?: KlPenalty;
  klCoef?: number;
  microBatchSize?: number;
  /** Optimizer steps over the same batch; the old log-probs stay those of the first pass. */
  ppoEpochs?: number;
  /** loss -= entropyCoef · aggregated entropy. */
  entropyCoef?: number;
  gamma?: number;
}

/** The rows of trajectories as one right-padded batch plus the [B, T] mask of trained tokens. */
export function trajectoryBatch(trajectories: readonly Trajectory[], padId: number): { batch: TokenBatch; responseMask: number[][]; T: number } {
  const T = Math.max(1, ...trajectories.map((t) => t.promptIds.length + t.responseIds.length));
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  const responseMask: number[][] = [];
  for (const t of trajectories) {
    const ids = [...t.promptIds, ...t.responseIds];
    const n = ids.length;
    inputIds.push([...ids, ...new Array<number>(T - n).fill(padId)]);
    attentionMask.push(Array.from({ length: T }, (_, i) => (i < n ? 1 : 0)));
    // Column p + j holds log p(response token j); observation tokens carry mask 0 and are never trained.
    const m = new Array<number>(T).fill(0);
    t.responseMask.forEach((v, j) => { m[t.promptIds.length + j] = v > 0 ? 1 : 0; });
    responseMask.push(m);
  }
  return { batch: { inputIds, attentionMask }, responseMask, T };
}

const rowsOf = (x: tf.Tensor2D | tf.Tensor1D, rows: number[]) => tf.gather(x, rows);

/**
 * One RL update (VeRL's update_actor): recompute old log-probs (and reference log-probs for KL)
 * without gradients, compute advantages, then `ppoEpochs` optimizer steps where every micro-batch's
 * loss is normalised by the whole batch (so gradient accumulation equals one full-batch step).
 * Returns scalar metrics for the log; every tensor made here is disposed before it returns.
 */
export async function rlStep(input: RlStepInput): Promise<Record<string, number>> {
  const { policy, trajectories } = input;
  const B = trajectories.length;
  if (B === 0) throw new Error('rlStep: no trajectories');
  if (input.rewards.length !== B) throw new Error(`rlStep: ${input.rewards.length} rewards for ${B} trajectories`);
  if (input.kl && !input.reference) throw new Error('rlStep: a KL penalty needs a reference policy');
  const { batch, responseMask: maskRows, T } = trajectoryBatch(trajectories, policy.tokenizer.padId);
  const mb = input.microBatchSize;
  const old = await policy.computeLogProbs(batch, mb ? { microBatchSize: mb } : undefined);
  const ref = input.kl && input.reference ? await input.reference.computeLogProbs(batch, mb ? { microBatchSize: mb } : undefined) : undefined;
  const names = [...new Set([...input.advantage.requiredFields, ...input.loss.requiredFields])];
  const fieldCols = fieldColumns(trajectories, names, 'rl-step');

  const toMat = (rows: Float32Array[]) => tf.tensor2d(concatRows(rows, T), [B, T]);
  const mask = tf.tensor2d(maskRows);
  const oldLp = toMat(old);
  const refLp = ref ? toMat(ref) : undefined;
  const adv = input.advantage.compute({ rewards: Float32Array.from(input.rewards), groupIds: trajectories.map((t) => t.groupId), responseMask: mask, fields: fieldCols, ...(input.gamma !== undefined ? { gamma: input.gamma } : {}) });
  const fieldT: Record<string, tf.Tensor1D> = Object.fromEntries(Object.entries(fieldCols).map(([k, v]) => [k, tf.tensor1d(v)]));
  const tokens = maskRows.reduce((a, r) => a + r.reduce((s, v) => s + v, 0), 0);
  const norm = { tokens, seqs: B };
  const agg: LossAggregator = { aggregate: (l, m) => input.aggregator.aggregate(l, m, norm) };
  const entropyCoef = input.entropyCoef ?? 0;
  const klCoef = input.klCoef ?? 0;
  const metrics: Record<string, number> = {};
  try {
    metrics.advantage_mean = (await maskedStat(adv, mask, 'mean'));
    metrics.advantage_max = await maskedStat(adv, mask, 'max');
    metrics.advantage_min = await maskedStat(adv, mask, 'min');
    metrics.reward_mean = input.rewards.reduce((a, b) => a + b, 0) / B;
    metrics.response_tokens = tokens / B;
    for (let epoch = 0; epoch < (input.ppoEpochs ?? 1); epoch++) {
      const stats = await policy.trainStep(batch, (fwd) => {
        const share = fwd.rows.length / B;
        const m = rowsOf(mask, fwd.rows) as tf.Tensor2D;
        const out = input.loss.compute({
          logProbs: fwd.logProbs,
          oldLogProbs: rowsOf(oldLp, fwd.rows) as tf.Tensor2D,
          advantages: rowsOf(adv, fwd.rows) as tf.Tensor2D,
          responseMask: m,
          fields: Object.fromEntries(Object.entries(fieldT).map(([k, v]) => [k, rowsOf(v, fwd.rows) as tf.Tensor1D])),
          aggregator: agg,
          ...(fwd.entropy ? { entropy: fwd.entropy } : {}),
        });
        let loss: tf.Scalar = out.loss;
        const extra: Record<string, tf.Scalar> = {};
        if (input.kl && refLp) {
          const klMat = input.kl.compute(fwd.logProbs, rowsOf(refLp, fwd.rows) as tf.Tensor2D);
          const klLoss = agg.aggregate(klMat, m);
          extra.kl_loss = tf.div(klLoss, share) as tf.Scalar;
          if (klCoef !== 0) loss = tf.add(loss, tf.mul(klCoef, klLoss)) as tf.Scalar;
        }
        if (fwd.entropy && entropyCoef !== 0) loss = tf.sub(loss, tf.mul(entropyCoef, agg.aggregate(fwd.entropy, m))) as tf.Scalar;
        // The policy weights each micro-batch by its share of rows; the whole-batch norm already did.
        return { loss: tf.div(loss, share) as tf.Scalar, metrics: { ...out.metrics, ...extra } };
      }, { ...(mb ? { microBatchSize: mb } : {}), needEntropy: true });
      const prefix = epoch === 0 ? '' : `epoch${epoch}/`;
      metrics[`${prefix}loss`] = stats.loss;
      metrics[`${prefix}grad_norm`] = stats.gradNorm;
      metrics.lr = stats.lr;
      for (const [k, v] of Object.entries(stats.metrics)) metrics[`${prefix}${k}`] = v;
    }
  } finally {
    tf.dispose([mask, oldLp, adv, ...(refLp ? [refLp] : []), ...Object.values(fieldT)]);
  }
  return metrics;
}

function concatRows(rows: Float32Array[], T: number): Float32Array {
  const out = new Float32Array(rows.length * T);
  rows.forEach((r, i) => out.set(r.subarray(0, T), i * T));
  return out;
}

async function maskedStat(x: tf.Tensor2D, mask: tf.Tensor2D, kind: 'mean' | 'max' | 'min'): Promise<number> {
  const [xv, mv] = [x.dataSync(), mask.dataSync()];
  let n = 0, s = 0, mx = -Infinity, mn = Infinity;
  for (let i = 0; i < xv.length; i++) {
    if ((mv[i] as number) <= 0) continue;
    const v = xv[i] as number;
    n++; s += v; mx = Math.max(mx, v); mn = Math.min(mn, v);
  }
  if (n === 0) return 0;
  return kind === 'mean' ? s / n : kind === 'max' ? mx : mn;
}
