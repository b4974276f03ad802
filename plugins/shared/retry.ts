import { backoffMs, pause } from './backoff.js';

/** How often and how patiently a client retries; the same three options in every client's schema. */
export interface RetryPolicy {
  /** Extra attempts after the first: at most `retries + 1` attempts in all. */
  retries: number;
  /** Retry k (k = 1, 2, ...) waits uniformly in [0, min(backoffMaxMs, backoffBaseMs · 2^(k-1))] ms. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/**
 * The schema of the RetryPolicy options with a client's defaults, to spread into its `properties`
 * (so every client spells and describes them alike).
 */
export function retryPolicySchema<const R extends number, const B extends number, const M extends number>(defaults: {
  retries: R;
  backoffBaseMs: B;
  backoffMaxMs: M;
}) {
  return {
    retries: {
      type: 'integer',
      minimum: 0,
      default: defaults.retries,
      description:
        'extra attempts after the first, on connection errors, timeouts, HTTP 5xx/408/429 and malformed answers',
    },
    backoffBaseMs: {
      type: 'integer',
      minimum: 0,
      default: defaults.backoffBaseMs,
      description: 'the first retry waits up to this long; the bound doubles per retry (full jitter)',
    },
    backoffMaxMs: {
      type: 'integer',
      minimum: 0,
      default: defaults.backoffMaxMs,
      description: 'cap on the backoff bound',
    },
  } as const;
}

/** What a failed attempt means: try again (if attempts are left), give up, or the caller cancelled. */
export type RetryVerdict = 'retry' | 'stop' | 'cancelled';

export interface RetryHooks {
  /** Cancels the loop: checked before each attempt, and it cuts a backoff short. */
  signal?: AbortSignal;
  /** The backoff's random source (default Math.random); one draw per retry, in order. */
  rand?: () => number;
  /**
   * Classifies the error a failed attempt threw (`attempt` counts from 0), after the attempt ended;
   * the place for per-failure side effects (cooling an endpoint down, logging).
   */
  onFailure(error: unknown, attempt: number): RetryVerdict;
  /** Called before retry `attempt` (1, 2, ...) waits its backoff. */
  beforeRetry?(attempt: number): void;
}

export type RetryOutcome<T> =
  | { ok: true; value: T; attempts: number }
  | {
      ok: false;
      /** cancelled: the signal or a 'cancelled' verdict; stopped: a 'stop' verdict; exhausted: every attempt failed. */
      reason: 'cancelled' | 'stopped' | 'exhausted';
      /** Attempts started. */
      attempts: number;
      /** What each failed attempt threw, oldest first (the last is the one that ended the loop, if any). */
      errors: unknown[];
    };

/**
 * Runs `attempt` until it resolves, at most `policy.retries + 1` times, waiting a full-jitter
 * exponential backoff before each retry. Never throws what an attempt throws: failures are handed
 * to `hooks.onFailure`, and the outcome says how the loop ended. Which endpoint an attempt goes to
 * is the attempt's own business (it knows its number).
 */
export async function withRetries<T>(
  attempt: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  hooks: RetryHooks,
): Promise<RetryOutcome<T>> {
  const errors: unknown[] = [];
  const { signal } = hooks;
  for (let n = 0; n <= policy.retries; n++) {
    if (signal?.aborted) return { ok: false, reason: 'cancelled', attempts: n, errors };
    if (n > 0) {
      hooks.beforeRetry?.(n);
      if (!(await pause(backoffMs(n - 1, policy.backoffBaseMs, policy.backoffMaxMs, hooks.rand), signal)))
        return { ok: false, reason: 'cancelled', attempts: n, errors };
    }
    try {
      return { ok: true, value: await attempt(n), attempts: n + 1 };
    } catch (e) {
      errors.push(e);
      const verdict = hooks.onFailure(e, n);
      if (verdict === 'cancelled') return { ok: false, reason: 'cancelled', attempts: n + 1, errors };
      if (verdict === 'stop') return { ok: false, reason: 'stopped', attempts: n + 1, errors };
    }
  }
  return { ok: false, reason: 'exhausted', attempts: policy.retries + 1, errors };
}
