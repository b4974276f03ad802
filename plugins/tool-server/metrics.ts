/** Latency summary over the most recent samples (a ring buffer, so memory stays bounded). */
export class LatencyWindow {
  private readonly buf: number[] = [];
  private next = 0;
  count = 0;
  private sum = 0;
  private max = 0;

  constructor(private readonly size = 2048) {}

  add(ms: number): void {
    this.count++;
    this.sum += ms;
    this.max = Math.max(this.max, ms);
    if (this.buf.length < this.size) this.buf.push(ms);
    else this.buf[this.next] = ms;
    this.next = (this.next + 1) % this.size;
  }

  /** p50/p95/p99 over the window (nearest rank), mean and max over all samples. */
  summary(): { count: number; meanMs: number; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number } {
    const s = [...this.buf].sort((a, b) => a - b);
    const q = (p: number) => (s.length === 0 ? 0 : round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]));
    return {
      count: this.count,
      meanMs: this.count === 0 ? 0 : round(this.sum / this.count),
      p50Ms: q(0.5),
      p95Ms: q(0.95),
      p99Ms: q(0.99),
      maxMs: round(this.max),
    };
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
