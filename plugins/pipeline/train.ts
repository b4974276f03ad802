import type { Policy, StageContext, Trajectory } from '../../core/index.js';
import { rlStep } from '../../core/train/index.js';
import type { RlOptions } from './schema.js';

/**
 * One RL update on finished trajectories. Samples whose reward is null are dropped first
 * (the reward's way of saying "do not train on this").
 */
export async function rlUpdate(
  ctx: StageContext,
  policy: Policy,
  reference: Policy | undefined,
  trajectories: Trajectory[],
  rewards: (number | null)[],
  o: RlOptions,
): Promise<Record<string, number>> {
  const keep = trajectories.map((_, i) => i).filter((i) => rewards[i] !== null && rewards[i] !== undefined);
  if (keep.length === 0) return { trained: 0 };
  const [advantage, loss, aggregator, kl] = await Promise.all([
    ctx.get(o.advantage, 'advantage'),
    ctx.get(o.loss, 'policy-loss'),
    ctx.get(o.lossAgg, 'loss-agg'),
    o.kl ? ctx.get(o.kl, 'kl') : Promise.resolve(undefined),
  ]);
  const metrics = await rlStep({
    policy,
    reference,
    trajectories: keep.map((i) => trajectories[i] as Trajectory),
    rewards: keep.map((i) => rewards[i] as number),
    advantage,
    loss,
    aggregator,
    kl,
    klCoef: o.klCoef,
    microBatchSize: o.microBatchSize,
    ...(o.miniBatchSize ? { miniBatchSize: o.miniBatchSize } : {}),
    ppoEpochs: o.ppoEpochs,
    entropyCoef: o.entropyCoef,
  });
  return { trained: keep.length, ...metrics };
}

/** Mean of each numeric key over records, prefixed (e.g. difficulty.digits). */
export function summarize(rows: readonly Record<string, number>[], prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (rows.length === 0) return out;
  for (const k of Object.keys(rows[0] as object))
    out[`${prefix}${k}`] = rows.reduce((a, r) => a + (r[k] ?? 0), 0) / rows.length;
  return out;
}
