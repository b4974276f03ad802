/**
 * Chooses an endpoint for each request: the one with the fewest samples in flight, except that a
 * trajectory (affinity key) stays on the endpoint that served its earlier turns, so the server's
 * prefix cache holds its context. Endpoints that just failed cool down while others are up.
 */
export class Balancer {
  private readonly inflight: number[];
  private readonly coolUntil: number[];
  private readonly affinity = new Map<string, number>();
  private rr = 0;

  constructor(
    readonly size: number,
    private readonly opts: { cooldownMs: number; affinityCacheSize: number; now?: () => number },
  ) {
    this.inflight = new Array(size).fill(0);
    this.coolUntil = new Array(size).fill(0);
  }

  /**
   * Picks an endpoint for `weight` samples and counts them in flight; call `release` when done.
   * `avoid`: endpoints that already failed this request (used only when no other is left).
   */
  acquire(weight: number, key?: string, avoid?: ReadonlySet<number>): number {
    const now = (this.opts.now ?? Date.now)();
    const usable = (i: number) => !avoid?.has(i) && this.coolUntil[i] <= now;
    let chosen = -1;
    if (key !== undefined) {
      const prev = this.affinity.get(key);
      if (prev !== undefined && usable(prev)) chosen = prev;
    }
    if (chosen < 0) {
      const pools = [
        [...Array(this.size).keys()].filter(usable),
        [...Array(this.size).keys()].filter((i) => !avoid?.has(i)),
        [...Array(this.size).keys()],
      ];
      const pool = pools.find((p) => p.length > 0)!;
      const least = Math.min(...pool.map((i) => this.inflight[i]));
      const ties = pool.filter((i) => this.inflight[i] === least);
      chosen = ties[this.rr++ % ties.length];
    }
    if (key !== undefined) {
      this.affinity.delete(key);
      this.affinity.set(key, chosen);
      if (this.affinity.size > this.opts.affinityCacheSize) {
        this.affinity.delete(this.affinity.keys().next().value as string);
      }
    }
    this.inflight[chosen] += weight;
    return chosen;
  }

  release(i: number, weight: number): void {
    this.inflight[i] -= weight;
  }

  /** A connection-level failure: steer new work elsewhere for a while. */
  markDown(i: number): void {
    this.coolUntil[i] = (this.opts.now ?? Date.now)() + this.opts.cooldownMs;
  }

  markUp(i: number): void {
    this.coolUntil[i] = 0;
  }

  inFlight(): number[] {
    return [...this.inflight];
  }

  endpointOf(key: string): number | undefined {
    return this.affinity.get(key);
  }
}
