import { setTimeout as sleep } from 'node:timers/promises';

/** Full-jitter exponential backoff: uniform in [0, min(max, base * 2^attempt)], whole milliseconds. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, rand: () => number = Math.random): number {
  return Math.floor(rand() * Math.min(maxMs, baseMs * 2 ** attempt));
}

/** Waits `ms`; false (at once, or as soon as it aborts) when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return sleep(ms, undefined, signal ? { signal } : {}).then(
    () => true,
    () => false,
  );
}
