import { LeastBusy } from '../shared/least-busy.js';

/**
 * Chooses an endpoint for each request: the one with the fewest samples in flight, except that a
 * trajectory (affinity key) stays on the endpoint that served its earlier turns, so the server's
 * prefix cache holds its context. Endpoints that just failed cool down while others are up.
 */
export class Balancer {
  private readonly lb: LeastBusy;
  private readonly affinity = new Map<string, number>();

  constructor(
    readonly size: number,
    private readonly opts: { cooldownMs: number; affinityCacheSize: number; now?: () => number },
  ) {
    this.lb = new LeastBusy(size, opts);
  }

  /**
   * Picks an endpoint for `weight` samples and counts them in flight; call `release` when done.
   * `avoid`: endpoints that already failed this request (used only when no other is left).
   */
  acquire(weight: number, key?: string, avoid?: ReadonlySet<number>): number {
    const now = this.lb.now();
    const usable = (i: number) => !avoid?.has(i) && this.lb.isUp(i, now);
    let chosen = -1;
    if (key !== undefined) {
      const prev = this.affinity.get(key);
      if (prev !== undefined && usable(prev)) chosen = prev;
    }
    // An endpoint this request avoids is taken only after every cooling one.
    if (chosen < 0) chosen = this.lb.pick([usable, (i) => !avoid?.has(i)]);
    if (key !== undefined) {
      this.affinity.delete(key);
      this.affinity.set(key, chosen);
      if (this.affinity.size > this.opts.affinityCacheSize) {
        this.affinity.delete(this.affinity.keys().next().value as string);
      }
    }
    this.lb.take(chosen, weight);
    return chosen;
  }

  release(i: number, weight: number): void {
    this.lb.release(i, weight);
  }

  /** A connection-level failure: steer new work elsewhere for a while. */
  markDown(i: number): void {
    this.lb.markDown(i);
  }

  markUp(i: number): void {
    this.lb.markUp(i);
  }

  inFlight(): number[] {
    return this.lb.inFlight();
  }

  endpointOf(key: string): number | undefined {
    return this.affinity.get(key);
  }
}
