/**
 * Load and cooldowns of a client's endpoints (0 .. size-1), and the least-busy choice among them:
 * the endpoint with the least load in flight within the first non-empty tier of the caller's
 * preferences, ties taken in turn. An endpoint marked down cools down for `cooldownMs` (or until it
 * is marked up); what a caller does with that (skip it first, or only after endpoints it already
 * tried) is its tiers' business.
 */
export class LeastBusy {
  private readonly load: number[];
  private readonly coolUntil: number[];
  private rr = 0;

  constructor(
    readonly size: number,
    private readonly opts: { cooldownMs: number; now?: () => number },
  ) {
    this.load = new Array(size).fill(0);
    this.coolUntil = new Array(size).fill(0);
  }

  now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Not cooling down at time `now`. */
  isUp(i: number, now: number): boolean {
    return this.coolUntil[i] <= now;
  }

  /**
   * The least-loaded endpoint of the first tier that holds any (the last tier should hold every
   * endpoint); ties rotate. Does not count the pick in flight: `take` does.
   */
  pick(tiers: readonly ((i: number) => boolean)[]): number {
    const all = [...Array(this.size).keys()];
    let pool: number[] = all;
    for (const t of tiers) {
      const p = all.filter(t);
      if (p.length > 0) {
        pool = p;
        break;
      }
    }
    const least = Math.min(...pool.map((i) => this.load[i]));
    const ties = pool.filter((i) => this.load[i] === least);
    return ties[this.rr++ % ties.length];
  }

  take(i: number, weight = 1): void {
    this.load[i] += weight;
  }

  release(i: number, weight = 1): void {
    this.load[i] -= weight;
  }

  /** Steer new work elsewhere for `cooldownMs`. */
  markDown(i: number): void {
    this.coolUntil[i] = this.now() + this.opts.cooldownMs;
  }

  markUp(i: number): void {
    this.coolUntil[i] = 0;
  }

  inFlight(): number[] {
    return [...this.load];
  }

  loadOf(i: number): number {
    return this.load[i];
  }
}
