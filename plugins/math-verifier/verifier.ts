import type { Verifier, VerifyResult } from '../../core/index.js';
import { compareAnswers } from './compare.js';
import { compareOptions } from './compare-options.js';
import { DEFAULT_VERIFIER, type MathVerifierOptions } from './options.js';
import { extractAnswer } from './extract.js';
import { normalizeAnswer } from './normalize.js';
import { ComparePool } from './pool.js';

export { DEFAULT_VERIFIER, type MathVerifierOptions } from './options.js';

const INTEGER = /^\s*-?\d{1,300}\s*$/;
const PLAIN_NUMBER = /^-?(?:\d+(?:\.\d+)?|\.\d+)$/;

/**
 * A gold answer written with markup (`$9$`, a solution ending in `\boxed{}`) is extracted first; a
 * gold box left unclosed is read to the end (a reference's slip, unlike a response cut off mid-answer).
 */
export function goldAnswer(gold: string): string {
  if (!/\\boxed|\\fbox|\$|\\\(|\\\[/.test(gold)) return gold.trim();
  return extractAnswer(gold, { unclosedBox: 'content' }) ?? gold.trim();
}

/**
 * The math verifier: extraction, then gold-led equivalence. Plain numbers and identical answers are
 * decided in the calling thread; everything else runs in the worker pool under a timeout.
 */
export class MathVerifier implements Verifier {
  private readonly pool: ComparePool;
  private readonly cache = new Map<string, boolean>();
  /** Comparisons answered without a worker round trip / by a worker / stopped by the timeout. */
  readonly stats = { fast: 0, pooled: 0, cached: 0, timeouts: 0, errors: 0 };

  constructor(private readonly o: MathVerifierOptions = DEFAULT_VERIFIER) {
    this.pool = new ComparePool(o.workers, o.timeoutMs, compareOptions(o), o.symbolic);
  }

  /** Waits until the workers have started (optional: calls before then just queue). */
  ready(): Promise<void> {
    return this.pool.ready();
  }

  extract(response: string): string | null {
    const a = extractAnswer(response);
    return a !== null && a.length <= this.o.maxAnswerChars ? a : null;
  }

  async equivalent(gold: string, pred: string): Promise<boolean> {
    if (gold.length > this.o.maxAnswerChars || pred.length > this.o.maxAnswerChars) return false;
    const key = `${gold}\u0000${pred}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.stats.cached++;
      return hit;
    }
    let verdict = this.fast(gold, pred);
    if (verdict === undefined) {
      this.stats.pooled++;
      const r = await this.pool.compare(gold, pred);
      if (r.timedOut) this.stats.timeouts++;
      if (r.error) this.stats.errors++;
      verdict = r.result;
    } else {
      this.stats.fast++;
    }
    if (this.o.cacheSize > 0) {
      if (this.cache.size >= this.o.cacheSize) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, verdict);
    }
    return verdict;
  }

  async verify(gold: string, response: string): Promise<VerifyResult> {
    const extracted = this.extract(response);
    if (extracted === null) return { correct: false, extracted: null };
    return { correct: await this.equivalent(goldAnswer(gold), extracted), extracted };
  }

  async dispose(): Promise<void> {
    await this.pool.dispose();
  }

  /** In-thread verdict for identical answers and plain numbers; undefined sends the pair to a worker. */
  private fast(gold: string, pred: string): boolean | undefined {
    if (gold.trim() === pred.trim() && gold.trim()) return true;
    // the majority-vote common case: two integers, no normalisation needed
    if (INTEGER.test(gold) && INTEGER.test(pred)) return BigInt(gold.trim()) === BigInt(pred.trim());
    if (gold.length > 64 || pred.length > 64) return undefined;
    const g = normalizeAnswer(gold);
    const p = normalizeAnswer(pred);
    if (!g || !p) return false;
    if (g.replace(/\s+/g, '') === p.replace(/\s+/g, '')) return true;
    if (PLAIN_NUMBER.test(g) && PLAIN_NUMBER.test(p)) return compareAnswers(g, p, this.o);
    return undefined;
  }
}
