import * as tf from '@tensorflow/tfjs';
import type {
  AdvantageEstimator,
  KlPenalty,
  LossAggregator,
  PolicyLoss,
  PolicyLossWire,
} from '../contracts/algorithms.js';
import { type FieldColumns, fieldColumns } from '../contracts/fields.js';
import type { FusedLossSpec, Policy, TokenBatch, TrainStepStats } from '../contracts/policy.js';
import type { Trajectory } from '../contracts/rollout.js';

export interface RlStepInput {
  policy: Policy;
  /** Frozen reference for the KL terms; required when `kl` or `rewardKl` is given. */
  reference?: Policy;
  trajectories: readonly Trajectory[];
  /** One outcome reward per trajectory. */
  rewards: readonly number[];
  advantage: AdvantageEstimator;
  loss: PolicyLoss;
  aggregator: LossAggregator;
  /** KL as a loss term: loss += klCoef · aggregate(kl(logp, ref)). */
  kl?: KlPenalty;
  klCoef?: number;
  /**
   * KL inside the reward (VeRL's use_kl_in_reward): before the advantage,
   * r_i -= rewardKlCoef · Σ_t m_it · kl(oldLogp, ref)_it.
   */
  rewardKl?: KlPenalty;
  rewardKlCoef?: number;
  /** Rows per forward/backward pass (gradient accumulation); the whole mini-batch when absent. */
  microBatchSize?: number;
  /**
   * Rows per optimizer step (VeRL's ppo_mini_batch_size), taken in order; the whole batch when
   * absent. Each mini-batch's loss is normalised over that mini-batch.
   */
  miniBatchSize?: number;
  /** Passes over the batch; the old log-probs stay those computed before the first step. */
  ppoEpochs?: number;
  /** loss -= entropyCoef · aggregated entropy (on top of any bonus inside the policy loss). */
  entropyCoef?: number;
  /**
   * Ask the policy for the entropy so the loss reports it (default true). It costs one more [b, T, V]
   * pass over the logits; false skips it unless entropyCoef needs it (a loss with its own entropy
   * bonus then throws, asking for it).
   */
  entropyMetric?: boolean;
  /** Discount for return-based advantage estimators (REINFORCE++). */
  gamma?: number;
}

/** The rows of trajectories as one right-padded batch plus the [B, T] mask of trained tokens. */
export function trajectoryBatch(
  trajectories: readonly Trajectory[],
  padId: number,
): { batch: TokenBatch; responseMask: number[][]; T: number } {
  const T = Math.max(1, ...trajectories.map((t) => t.promptIds.length + t.responseIds.length));
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  const responseMask: number[][] = [];
  for (const t of trajectories) {
    if (t.responseMask.length !== t.responseIds.length) {
      throw new Error(
        `trajectory ${t.id}: responseMask has ${t.responseMask.length} entries, responseIds ${t.responseIds.length}`,
      );
    }
    const ids = [...t.promptIds, ...t.responseIds];
    const n = ids.length;
    inputIds.push([...ids, ...new Array<number>(T - n).fill(padId)]);
    attentionMask.push(Array.from({ length: T }, (_, i) => (i < n ? 1 : 0)));
    // Column p + j holds log p(response token j); observation tokens carry mask 0 and are never trained.
    const m = new Array<number>(T).fill(0);
    t.responseMask.forEach((v, j) => {
      m[t.promptIds.length + j] = v > 0 ? 1 : 0;
    });
    responseMask.push(m);
  }
  return { batch: { inputIds, attentionMask }, responseMask, T };
}

/**
 * How a loss metric combines over micro-batches (and over optimizer steps), by its name:
 * `*_loss` values are already normalised by the whole mini-batch, so micro-batches add up;
 * `*_min` / `*_max` are extremes; everything else is a masked token mean, weighted by tokens.
 */
function metricKind(name: string): 'sum' | 'min' | 'max' | 'mean' {
  if (name.endsWith('_loss')) return 'sum';
  if (name.endsWith('_min')) return 'min';
  if (name.endsWith('_max')) return 'max';
  return 'mean';
}

/** Combines per-part metric values (micro-batches of one step, or steps of one update). */
function combine(
  parts: { values: Record<string, number>; weight: number }[],
  sumLosses: boolean,
): Record<string, number> {
  const out: Record<string, number> = {};
  const totalWeight = parts.reduce((a, p) => a + p.weight, 0);
  const keys = new Set(parts.flatMap((p) => Object.keys(p.values)));
  for (const k of keys) {
    const vals = parts.filter((p) => k in p.values);
    const kind = metricKind(k);
    if (kind === 'min') out[k] = Math.min(...vals.map((p) => p.values[k] as number));
    else if (kind === 'max') out[k] = Math.max(...vals.map((p) => p.values[k] as number));
    else if (kind === 'sum' && sumLosses) out[k] = vals.reduce((a, p) => a + (p.values[k] as number), 0);
    else if (kind === 'sum' || totalWeight === 0)
      out[k] = vals.reduce((a, p) => a + (p.values[k] as number), 0) / vals.length;
    else
      out[k] =
        vals.reduce((a, p) => a + (p.values[k] as number) * p.weight, 0) / vals.reduce((a, p) => a + p.weight, 0);
  }
  return out;
}

function chunks(n: number, size: number): number[][] {
  const out: number[][] = [];
  for (let s = 0; s < n; s += size) out.push(Array.from({ length: Math.min(size, n - s) }, (_, j) => s + j));
  return out;
}

/**
 * One RL update (VeRL's update_actor): recompute old log-probs (and reference log-probs for KL)
 * without gradients, compute advantages, then `ppoEpochs` passes over the batch in mini-batches, one
 * optimizer step each, where every micro-batch's loss is normalised by its whole mini-batch (so
 * gradient accumulation equals one full-mini-batch step). Returns scalar metrics (averaged over the
 * optimizer steps); every tensor made here is disposed before it returns.
 */
export async function rlStep(input: RlStepInput): Promise<Record<string, number>> {
  const { policy, trajectories } = input;
  const B = trajectories.length;
  if (B === 0) throw new Error('rlStep: no trajectories');
  if (input.rewards.length !== B) throw new Error(`rlStep: ${input.rewards.length} rewards for ${B} trajectories`);
  if ((input.kl || input.rewardKl) && !input.reference)
    throw new Error('rlStep: a KL penalty needs a reference policy');
  for (const [k, v] of [
    ['microBatchSize', input.microBatchSize],
    ['miniBatchSize', input.miniBatchSize],
    ['ppoEpochs', input.ppoEpochs],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1))
      throw new Error(`rlStep: ${k} must be a positive integer, got ${v}`);
  }
  input.rewards.forEach((r, i) => {
    if (!Number.isFinite(r)) throw new Error(`rlStep: reward ${r} at row ${i} is not a finite number`);
  });
  const names = [...new Set([...input.advantage.requiredFields, ...input.loss.requiredFields])];
  const fieldCols = fieldColumns(trajectories, names, 'rl-step');
  const { batch, responseMask: maskRows, T } = trajectoryBatch(trajectories, policy.tokenizer.padId);
  const mb = input.microBatchSize;
  const old = await policy.computeLogProbs(batch, mb ? { microBatchSize: mb } : undefined);
  const ref =
    input.reference && (input.kl || input.rewardKl)
      ? await input.reference.computeLogProbs(batch, mb ? { microBatchSize: mb } : undefined)
      : undefined;

  const toMat = (rows: Float32Array[]) => tf.tensor2d(concatRows(rows, T), [B, T]);
  const mask = tf.tensor2d(maskRows, [B, T], 'float32');
  const oldLp = toMat(old);
  const refLp = ref ? toMat(ref) : undefined;
  const fieldT: Record<string, tf.Tensor1D> = Object.fromEntries(
    Object.entries(fieldCols).map(([k, v]) => [k, tf.tensor1d(v)]),
  );
  const tokensOf = (rows: readonly number[]) =>
    rows.reduce((a, r) => a + (maskRows[r] as number[]).reduce((s, v) => s + v, 0), 0);
  const entropyCoef = input.entropyCoef ?? 0;
  const klCoef = input.klCoef ?? 0;
  const metrics: Record<string, number> = {};
  let adv: tf.Tensor2D | undefined;
  try {
    const rewards = Float32Array.from(input.rewards);
    if (input.rewardKl && refLp && (input.rewardKlCoef ?? 0) !== 0) {
      const rowKl = tf.tidy(() => {
        const k = (input.rewardKl as KlPenalty).compute(oldLp, refLp);
        return tf.sum(tf.where(tf.greater(mask, 0), k, tf.zerosLike(k)), 1);
      });
      const perRow = Array.from(rowKl.dataSync());
      rowKl.dispose();
      perRow.forEach((v, i) => {
        rewards[i] = (rewards[i] as number) - (input.rewardKlCoef as number) * v;
      });
      metrics.reward_kl_mean = perRow.reduce((a, v) => a + v, 0) / B;
    }
    adv = input.advantage.compute({
      rewards,
      groupIds: trajectories.map((t) => t.groupId),
      responseMask: mask,
      fields: fieldCols,
      ...(input.gamma !== undefined ? { gamma: input.gamma } : {}),
    });
    Object.assign(metrics, advantageStats(adv, mask));
    metrics.reward_mean = input.rewards.reduce((a, b) => a + b, 0) / B;
    metrics.response_tokens = tokensOf(maskRows.map((_, i) => i)) / B;
    Object.assign(metrics, rolloutLogProbDiff(trajectories, old));

    const steps: { values: Record<string, number>; weight: number }[] = [];
    let lr = 0;
    const wire = fusedWire(input, fieldCols, B);
    const advRows = wire ? (adv.arraySync() as number[][]).map((r) => Float32Array.from(r)) : [];
    const needEntropy = (input.entropyMetric ?? true) || entropyCoef !== 0;
    for (let epoch = 0; epoch < (input.ppoEpochs ?? 1); epoch++) {
      for (const miniRows of chunks(B, input.miniBatchSize ?? B)) {
        const tokens = tokensOf(miniRows);
        // seq-mean-* average over the rows that have response tokens (verl's agg_loss leaves empty rows out)
        const norm = { tokens, seqs: miniRows.filter((r) => tokensOf([r]) > 0).length };
        const agg: LossAggregator = { aggregate: (l, m) => input.aggregator.aggregate(l, m, norm) };
        const sub: TokenBatch =
          miniRows.length === B
            ? batch
            : {
                inputIds: miniRows.map((r) => batch.inputIds[r] as number[]),
                attentionMask: miniRows.map((r) => batch.attentionMask[r] as number[]),
              };
        const parts: { tensors: Record<string, tf.Scalar>; weight: number }[] = [];
        let micro: { values: Record<string, number>; weight: number }[] = [];
        let stats: TrainStepStats;
        if (wire && policy.fused) {
          const spec: FusedLossSpec = {
            advantages: miniRows.map((r) => advRows[r] as Float32Array),
            oldLogProbs: miniRows.map((r) => (old[r] as Float32Array).subarray(0, T)),
            ...(ref && input.kl ? { refLogProbs: miniRows.map((r) => (ref[r] as Float32Array).subarray(0, T)) } : {}),
            weights: (input.aggregator.weights as NonNullable<LossAggregator['weights']>)(
              miniRows.map((r) => maskRows[r] as number[]),
              norm,
            ),
            mask: miniRows.map((r) => maskRows[r] as number[]),
            clipLow: miniRows.map((r) => wire.clipLow[r] as number),
            clipHigh: miniRows.map((r) => wire.clipHigh[r] as number),
            ratio: wire.ratio,
            clipRatioC: wire.clipRatioC,
            klType: input.kl ? (input.kl.wireType as string) : null,
            klCoef: input.kl ? klCoef : 0,
            entropyCoef: wire.entropyCoef + entropyCoef,
          };
          stats = await policy.fused.trainStep(sub, spec, {
            ...(mb ? { microBatchSize: mb } : {}),
            needEntropy: needEntropy || spec.entropyCoef !== 0,
          });
          const keep = new Set([
            ...wire.metrics,
            'pg_loss',
            ...(needEntropy ? ['entropy'] : []),
            ...(input.kl ? ['kl_loss'] : []),
          ]);
          micro = [
            { values: Object.fromEntries(Object.entries(stats.metrics).filter(([k]) => keep.has(k))), weight: tokens },
          ];
        } else {
          try {
            stats = await policy.trainStep(
              sub,
              (fwd) => {
                const rows = fwd.rows.map((r) => miniRows[r] as number);
                const share = fwd.rows.length / miniRows.length;
                const pick = <X extends tf.Tensor>(x: X) => tf.gather(x, rows) as X;
                const m = pick(mask);
                const out = input.loss.compute({
                  logProbs: fwd.logProbs,
                  oldLogProbs: pick(oldLp),
                  advantages: pick(adv as tf.Tensor2D),
                  responseMask: m,
                  fields: Object.fromEntries(Object.entries(fieldT).map(([k, v]) => [k, pick(v)])),
                  aggregator: agg,
                  ...(fwd.entropy ? { entropy: fwd.entropy } : {}),
                });
                const kept: Record<string, tf.Scalar> = { ...out.metrics };
                let loss: tf.Scalar = out.loss;
                if (input.kl && refLp) {
                  const klLoss = agg.aggregate(input.kl.compute(fwd.logProbs, pick(refLp)), m);
                  kept.kl_loss = klLoss;
                  if (klCoef !== 0) loss = tf.add(loss, tf.mul(klCoef, klLoss)) as tf.Scalar;
                }
                if (fwd.entropy && entropyCoef !== 0)
                  loss = tf.sub(loss, tf.mul(entropyCoef, agg.aggregate(fwd.entropy, m))) as tf.Scalar;
                // Metrics stay with us (the policy would weight them by rows, not tokens); read after the step.
                for (const v of Object.values(kept)) tf.keep(v);
                parts.push({ tensors: kept, weight: tokensOf(rows) });
                // The policy weights each micro-batch by its share of rows; the mini-batch norm already did.
                return { loss: tf.div(loss, share) as tf.Scalar };
              },
              { ...(mb ? { microBatchSize: mb } : {}), needEntropy },
            );
            micro = parts.map((p) => ({
              values: Object.fromEntries(Object.entries(p.tensors).map(([k, v]) => [k, v.dataSync()[0] as number])),
              weight: p.weight,
            }));
          } finally {
            for (const p of parts) tf.dispose(Object.values(p.tensors));
          }
        }
        // Optimizer steps count equally (as VeRL averages its per-mini-batch metrics), so loss = pg_loss + klCoef ·
        // kl_loss holds for the averages too.
        steps.push({ values: { ...combine(micro, true), loss: stats.loss, grad_norm: stats.gradNorm }, weight: 1 });
        lr = stats.lr;
      }
    }
    Object.assign(metrics, combine(steps, false));
    metrics.lr = lr;
    metrics.optimizer_steps = steps.length;
  } finally {
    tf.dispose([mask, oldLp, ...(adv ? [adv] : []), ...(refLp ? [refLp] : []), ...Object.values(fieldT)]);
  }
  return metrics;
}

/**
 * The policy loss as data when the policy trains fused and every component can describe itself
 * (loss wire, KL type, aggregator weights); null for the loss-closure path. A policy that insists on
 * the fused path (mode 'fused') gets an error naming what cannot be described.
 */
function fusedWire(input: RlStepInput, fields: FieldColumns, B: number): PolicyLossWire | null {
  const fused = input.policy.fused;
  if (!fused) return null;
  const missing: string[] = [];
  if (!input.loss.wire) missing.push('the policy loss');
  if (input.kl && !input.kl.wireType) missing.push('the KL penalty');
  if (!input.aggregator.weights) missing.push('the loss aggregator');
  if (missing.length > 0) {
    if (fused.mode === 'fused')
      throw new Error(
        `rlStep: the policy trains fused only, but ${missing.join(', ')} cannot describe itself as data (use lossPath auto or custom)`,
      );
    return null;
  }
  return (input.loss.wire as NonNullable<PolicyLoss['wire']>)(fields, B);
}

/**
 * |sampling log-prob - recomputed old log-prob| over model tokens (VeRL's rollout_probs_diff): a
 * large value means the rollout engine and the trained policy disagree (weights not synced,
 * different numerics or sampling processor), which silently biases every ratio.
 */
function rolloutLogProbDiff(trajectories: readonly Trajectory[], old: Float32Array[]): Record<string, number> {
  let n = 0,
    sum = 0,
    max = 0;
  trajectories.forEach((t, i) => {
    if (t.logProbs.length !== t.responseIds.length) return;
    const row = old[i] as Float32Array;
    t.responseMask.forEach((m, j) => {
      if (m <= 0) return;
      const d = Math.abs((t.logProbs[j] as number) - (row[t.promptIds.length + j] as number));
      n++;
      sum += d;
      max = Math.max(max, d);
    });
  });
  return n === 0 ? {} : { rollout_logprob_diff_mean: sum / n, rollout_logprob_diff_max: max };
}

function advantageStats(adv: tf.Tensor2D, mask: tf.Tensor2D): Record<string, number> {
  const [xv, mv] = [adv.dataSync(), mask.dataSync()];
  let n = 0,
    s = 0,
    ss = 0,
    mx = -Infinity,
    mn = Infinity;
  for (let i = 0; i < xv.length; i++) {
    if ((mv[i] as number) <= 0) continue;
    const v = xv[i] as number;
    n++;
    s += v;
    ss += v * v;
    mx = Math.max(mx, v);
    mn = Math.min(mn, v);
  }
  if (n === 0) return { advantage_mean: 0, advantage_std: 0, advantage_max: 0, advantage_min: 0 };
  const mean = s / n;
  return {
    advantage_mean: mean,
    advantage_std: Math.sqrt(Math.max(0, ss / n - mean * mean)),
    advantage_max: mx,
    advantage_min: mn,
  };
}

function concatRows(rows: Float32Array[], T: number): Float32Array {
  const out = new Float32Array(rows.length * T);
  rows.forEach((r, i) => out.set(r.subarray(0, T), i * T));
  return out;
}
