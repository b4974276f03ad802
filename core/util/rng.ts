import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';

type Gen = ReturnType<typeof xoroshiro128plus>;

/** 32-bit FNV-1a then a murmur finaliser: spreads nearby seeds and labels apart. */
export function hashSeed(seed: number, label = ''): number {
  // the seed enters through its decimal text only: XOR-ing it into the basis as well cancelled
  // against its first digit and gave seeds 1..9 the same stream
  let h = 0x811c9dc5;
  const s = `${seed}:${label}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** Seeded RNG (xoroshiro128+ from pure-rand). `fork(label)` derives independent, reproducible streams. */
export class Rng {
  private readonly gen: Gen;
  constructor(
    readonly seed: number,
    readonly label = '',
  ) {
    this.gen = xoroshiro128plus(hashSeed(seed, label));
  }
  fork(label: string): Rng {
    return new Rng(this.seed, this.label ? `${this.label}/${label}` : label);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return uniformFloat64(this.gen);
  }
  /** Uniform integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return uniformInt(this.gen, lo, hi);
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.choice on an empty list');
    return items[this.int(0, items.length - 1)] as T;
  }
  /** Fisher-Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }
  /** A 31-bit integer seed for libraries that take one. */
  seedInt(): number {
    return this.int(0, 0x7fffffff);
  }
}
