import { expect } from 'chai';
import { HttpAttemptError, HttpCancelledError } from '../../../plugins/shared/json-endpoint.js';
import { LeastBusy } from '../../../plugins/shared/least-busy.js';
import { retryPolicySchema, withRetries, type RetryVerdict } from '../../../plugins/shared/retry.js';

const FAST = { retries: 3, backoffBaseMs: 1, backoffMaxMs: 2 };

/** The usual classification: HTTP 4xx other than 408/429 stops, a cancelled request cancels, the rest retries. */
const byKind = (e: unknown): RetryVerdict =>
  e instanceof HttpCancelledError ? 'cancelled' : e instanceof HttpAttemptError && !e.retryable ? 'stop' : 'retry';

/** An attempt function that throws `failures[n]` on attempt n and then answers 'ok'; it records the attempts. */
function script(failures: unknown[]) {
  const seen: number[] = [];
  const fn = async (n: number) => {
    seen.push(n);
    if (n < failures.length) throw failures[n];
    return 'ok';
  };
  return { fn, seen };
}

describe('shared: withRetries', () => {
  it('retries retryable failures and returns the answer, numbering the attempts', async () => {
    const s = script([
      new HttpAttemptError('a', 'refused'),
      new HttpAttemptError('b', 'status', 503),
      new HttpAttemptError('c', 'malformed'),
    ]);
    const before: number[] = [];
    const out = await withRetries(s.fn, FAST, { onFailure: byKind, beforeRetry: (n) => before.push(n) });
    expect(out).to.deep.equal({ ok: true, value: 'ok', attempts: 4 });
    expect(s.seen).to.deep.equal([0, 1, 2, 3]);
    expect(before).to.deep.equal([1, 2, 3]);
  });

  it('stops at once on a failure its classification does not retry', async () => {
    const bad = new HttpAttemptError('bad request', 'status', 400);
    const s = script([new HttpAttemptError('x', 'status', 429), bad, new HttpAttemptError('never', 'timeout')]);
    const verdicts: [string, number][] = [];
    const out = await withRetries(s.fn, FAST, {
      onFailure: (e, n) => {
        verdicts.push([(e as Error).message, n]);
        return byKind(e);
      },
    });
    expect(out.ok).to.equal(false);
    if (out.ok) return;
    expect(out.reason).to.equal('stopped');
    expect(out.attempts).to.equal(2);
    expect(out.errors.at(-1)).to.equal(bad);
    expect(s.seen).to.deep.equal([0, 1]);
    expect(verdicts).to.deep.equal([
      ['x', 0],
      ['bad request', 1],
    ]);
  });

  it('gives up after retries + 1 attempts, keeping every error oldest first', async () => {
    const errs = [0, 1, 2, 3, 4, 5].map((i) => new HttpAttemptError(`e${i}`, 'timeout'));
    const s = script(errs);
    const out = await withRetries(s.fn, FAST, { onFailure: byKind });
    expect(out.ok).to.equal(false);
    if (out.ok) return;
    expect(out.reason).to.equal('exhausted');
    expect(out.attempts).to.equal(4);
    expect(out.errors).to.deep.equal(errs.slice(0, 4));
    expect(s.seen).to.deep.equal([0, 1, 2, 3]);

    const once = script([new HttpAttemptError('down', 'refused')]);
    const zero = await withRetries(once.fn, { ...FAST, retries: 0 }, { onFailure: byKind });
    expect(zero.ok).to.equal(false);
    expect(once.seen).to.deep.equal([0]);
    expect(zero.ok === false && zero.reason).to.equal('exhausted');
  });

  it('draws one backoff per retry, in order, bounded by base · 2^k and the cap', async () => {
    // rand just below 1: the waits are the bounds themselves, 29, 49 (not 59), 49 (not 119) ms.
    let draws = 0;
    const starts: number[] = [];
    const out = await withRetries(
      async () => {
        starts.push(performance.now());
        throw new HttpAttemptError('busy', 'status', 503);
      },
      { retries: 3, backoffBaseMs: 30, backoffMaxMs: 50 },
      {
        onFailure: byKind,
        rand: () => {
          draws++;
          return 0.999;
        },
      },
    );
    expect(out.ok).to.equal(false);
    expect(draws).to.equal(3);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    [29, 49, 49].forEach((want, i) => {
      expect(gaps[i], `wait before retry ${i + 1}`).to.be.at.least(want - 2);
      expect(gaps[i], `wait before retry ${i + 1}`).to.be.below(want + 25);
    });

    // No retry, no draw.
    draws = 0;
    const rand = () => {
      draws++;
      return 0.5;
    };
    await withRetries(async () => 1, FAST, { onFailure: byKind, rand });
    await withRetries(script([new HttpAttemptError('no', 'status', 404)]).fn, FAST, { onFailure: byKind, rand });
    expect(draws).to.equal(0);
  });

  it('stops when the signal aborts during a backoff, and starts nothing once it has', async () => {
    const ac = new AbortController();
    const s = script([new HttpAttemptError('a', 'refused'), new HttpAttemptError('b', 'refused')]);
    const t0 = performance.now();
    const running = withRetries(
      s.fn,
      { retries: 5, backoffBaseMs: 10_000, backoffMaxMs: 10_000 },
      {
        signal: ac.signal,
        onFailure: byKind,
        rand: () => 0.999,
      },
    );
    setTimeout(() => ac.abort(), 20);
    const out = await running;
    expect(performance.now() - t0).to.be.below(2000);
    expect(out.ok).to.equal(false);
    if (out.ok) return;
    expect(out.reason).to.equal('cancelled');
    expect(out.attempts).to.equal(1);
    expect(s.seen).to.deep.equal([0]);
    expect((out.errors[0] as Error).message).to.equal('a');

    const before = script([]);
    const none = await withRetries(before.fn, FAST, { signal: ac.signal, onFailure: byKind });
    expect(none).to.deep.equal({ ok: false, reason: 'cancelled', attempts: 0, errors: [] });
    expect(before.seen).to.deep.equal([]);
  });

  it("ends on a 'cancelled' verdict without retrying", async () => {
    const cancelled = new HttpCancelledError();
    const s = script([cancelled]);
    const out = await withRetries(s.fn, FAST, { onFailure: byKind });
    expect(out).to.deep.equal({ ok: false, reason: 'cancelled', attempts: 1, errors: [cancelled] });
    expect(s.seen).to.deep.equal([0]);
  });

  it('names the retry options alike in every schema', () => {
    const p = retryPolicySchema({ retries: 4, backoffBaseMs: 250, backoffMaxMs: 8000 });
    expect(Object.keys(p)).to.deep.equal(['retries', 'backoffBaseMs', 'backoffMaxMs']);
    expect([p.retries.default, p.backoffBaseMs.default, p.backoffMaxMs.default]).to.deep.equal([4, 250, 8000]);
  });
});

describe('shared: LeastBusy', () => {
  it('takes the least loaded endpoint of the first non-empty tier, ties in turn', () => {
    const lb = new LeastBusy(3, { cooldownMs: 100, now: () => 0 });
    expect([0, 1, 2, 3].map(() => lb.pick([]))).to.deep.equal([0, 1, 2, 0]);
    lb.take(0, 2);
    lb.take(1);
    expect(lb.pick([])).to.equal(2);
    expect(lb.pick([(i) => i !== 2])).to.equal(1);
    expect(lb.pick([() => false, (i) => i === 0])).to.equal(0);
    lb.release(0, 2);
    expect(lb.inFlight()).to.deep.equal([0, 1, 0]);
  });

  it('cools an endpoint down until cooldownMs passed or it is marked up', () => {
    let now = 1000;
    const lb = new LeastBusy(2, { cooldownMs: 100, now: () => now });
    lb.markDown(0);
    expect([lb.isUp(0, now), lb.isUp(1, now)]).to.deep.equal([false, true]);
    expect(lb.pick([(i) => lb.isUp(i, now)])).to.equal(1);
    now = 1100;
    expect(lb.isUp(0, now)).to.equal(true);
    lb.markDown(1);
    lb.markUp(1);
    expect(lb.isUp(1, now)).to.equal(true);
  });
});
