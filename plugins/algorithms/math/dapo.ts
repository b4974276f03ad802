/*
 * DAPO's batch-level extras, as pure helpers (the RL step applies them when asked).
 */

/**
 * Whether a group carries GRPO signal: its non-null rewards are not all equal. A group with a single
 * scored sample counts as informative (its advantage is r / (1 + eps), not 0), as in DAPO / VeRL;
 * a group with no scored sample does not.
 */
export function isInformativeGroup(rewards: readonly (number | null | undefined)[]): boolean {
  const r = rewards.filter((x): x is number => typeof x === 'number');
  if (r.length === 0) return false;
  return r.length === 1 || r.some((x) => x !== r[0]);
}

/**
 * Dynamic sampling, row view: the rows to keep from a flat batch, dropping every group whose
 * rewards are all equal. The caller refills the batch with new groups.
 */
export function dynamicSamplingKeep(
  rewards: readonly (number | null)[] | ArrayLike<number>,
  groupIds: readonly string[],
): { keep: number[]; droppedGroups: string[] } {
  if (groupIds.length !== rewards.length)
    throw new Error(`groupIds has ${groupIds.length} entries, rewards ${rewards.length}`);
  const byGroup = new Map<string, (number | null)[]>();
  groupIds.forEach((g, i) => {
    const list = byGroup.get(g) ?? [];
    list.push(rewards[i] ?? null);
    byGroup.set(g, list);
  });
  const dropped = new Set([...byGroup].filter(([, rs]) => !isInformativeGroup(rs)).map(([g]) => g));
  const keep: number[] = [];
  groupIds.forEach((g, i) => {
    if (!dropped.has(g)) keep.push(i);
  });
  return { keep, droppedGroups: [...dropped] };
}

export interface SampledGroup {
  /** One reward per sample of the group; null: the reward dropped that sample. */
  rewards: readonly (number | null)[];
}

export interface DynamicSamplingResult<G> {
  /** Informative groups, in order, at most `targetGroups` of them. */
  kept: G[];
  /** Groups whose rewards were all equal (or all null). */
  dropped: G[];
  /** Informative groups beyond `targetGroups` (generated but not needed). */
  surplus: G[];
  /** How many more informative groups are needed to reach `targetGroups` (0 when full). */
  missing: number;
}

/**
 * DAPO dynamic sampling on whole groups: keeps the informative ones (isInformativeGroup), up to
 * `targetGroups` (default: all). Pure; `dynamicSamplingFill` runs the generate-and-refill loop.
 */
export function dynamicSampling<G extends SampledGroup>(
  groups: readonly G[],
  opts: { targetGroups?: number } = {},
): DynamicSamplingResult<G> {
  const target = opts.targetGroups ?? Infinity;
  const kept: G[] = [],
    dropped: G[] = [],
    surplus: G[] = [];
  for (const g of groups) {
    if (!isInformativeGroup(g.rewards)) dropped.push(g);
    else if (kept.length < target) kept.push(g);
    else surplus.push(g);
  }
  return { kept, dropped, surplus, missing: Number.isFinite(target) ? Math.max(0, target - kept.length) : 0 };
}

export interface DynamicSamplingFillResult<G> {
  groups: G[];
  /** Generation rounds run (calls to `generate`). */
  rounds: number;
  generated: number;
  dropped: number;
  /** false when `maxRounds` ran out before `targetGroups` informative groups were found. */
  filled: boolean;
}

/**
 * DAPO's refill loop: call `generate(round, wanted)` for new scored groups, keep the informative ones,
 * until `targetGroups` are collected (extra ones are discarded) or `maxRounds` calls were made
 * (VeRL's max_num_gen_batches). `wanted` is how many informative groups are still missing; a
 * generator may over-sample to make up for the ones that will be dropped.
 */
export async function dynamicSamplingFill<G extends SampledGroup>(
  generate: (round: number, wanted: number) => Promise<readonly G[]>,
  opts: { targetGroups: number; maxRounds: number },
): Promise<DynamicSamplingFillResult<G>> {
  const { targetGroups, maxRounds } = opts;
  if (!(Number.isInteger(targetGroups) && targetGroups >= 1))
    throw new Error(`dynamicSamplingFill: targetGroups must be a positive integer, got ${targetGroups}`);
  if (!(Number.isInteger(maxRounds) && maxRounds >= 1))
    throw new Error(`dynamicSamplingFill: maxRounds must be a positive integer, got ${maxRounds}`);
  const groups: G[] = [];
  let rounds = 0,
    generated = 0,
    dropped = 0;
  while (groups.length < targetGroups && rounds < maxRounds) {
    const batch = await generate(rounds, targetGroups - groups.length);
    rounds++;
    generated += batch.length;
    const r = dynamicSampling(batch, { targetGroups: targetGroups - groups.length });
    groups.push(...r.kept);
    dropped += r.dropped.length;
  }
  return { groups, rounds, generated, dropped, filled: groups.length >= targetGroups };
}

export interface OverlongOptions {
  /** L_max: the response length budget (tokens). */
  maxLength: number;
  /** L_cache: the soft zone before L_max where the penalty ramps from 0 to -1. */
  cacheLength: number;
  /** Multiplier of the penalty (DAPO: 1). */
  factor?: number;
}

/**
 * DAPO's soft overlong punishment for a response of `length` tokens:
 *   0 if L ≤ L_max - L_cache;  ((L_max - L_cache) - L) / L_cache if L_max - L_cache < L ≤ L_max;  -1 beyond.
 * The result (times `factor`) is added to the reward.
 */
export function overlongPenalty(length: number, opts: OverlongOptions): number {
  const { maxLength, cacheLength, factor = 1 } = opts;
  if (!(cacheLength > 0 && cacheLength <= maxLength))
    throw new Error(`overlong penalty: need 0 < cacheLength (${cacheLength}) <= maxLength (${maxLength})`);
  const free = maxLength - cacheLength;
  if (length <= free) return 0;
  if (length <= maxLength) return factor * ((free - length) / cacheLength);
  return factor === 0 ? 0 : -factor;
}
