/*
 * DAPO's batch-level extras, as pure helpers (the RL step applies them when asked).
 */

/**
 * Dynamic sampling: the rows to keep, dropping every group whose rewards are all equal (its GRPO
 * advantages would all be 0). The caller refills the batch with new groups.
 */
export function dynamicSamplingKeep(rewards: ArrayLike<number>, groupIds: readonly string[]): { keep: number[]; droppedGroups: string[] } {
  const range = new Map<string, [number, number]>();
  groupIds.forEach((g, i) => {
    const r = rewards[i];
    const cur = range.get(g);
    if (!cur) range.set(g, [r, r]);
    else { cur[0] = Math.min(cur[0], r); cur[1] = Math.max(cur[1], r); }
  });
  const dropped = new Set([...range].filter(([, [lo, hi]]) => lo === hi).map(([g]) => g));
  const keep: number[] = [];
  groupIds.forEach((g, i) => { if (!dropped.has(g)) keep.push(i); });
  return { keep, droppedGroups: [...dropped] };
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
  const free = maxLength - cacheLength;
  if (length <= free) return 0;
  if (length <= maxLength) return factor * ((free - length) / cacheLength);
  return -factor;
}
