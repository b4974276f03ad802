/**
 * Sentence BLEU as NLTK computes it (`nltk.translate.bleu_score.sentence_bleu`, NLTK 3.8), so that
 * the curriculum reward's repetition penalty matches the released Agent0 code (to an ulp of log/exp).
 */

/** Code points Python's `str.isspace()` accepts: the separators of `str.split()` with no argument. */
const PY_WHITESPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
  0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Python's `s.split()`: runs of Unicode whitespace separate tokens, empty tokens are dropped. */
export function pySplit(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    // every Python whitespace is in the BMP, so UTF-16 units suffice
    if (PY_WHITESPACE.has(s.charCodeAt(i))) {
      if (start >= 0) {
        out.push(s.slice(start, i));
        start = -1;
      }
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(s.slice(start));
  return out;
}

/** Exactly rounded sum of doubles (Shewchuk's algorithm, as Python's `math.fsum`). */
export function fsum(xs: Iterable<number>): number {
  const partials: number[] = [];
  let special = 0;
  for (let x of xs) {
    if (!Number.isFinite(x)) {
      special += x;
      continue;
    }
    let i = 0;
    for (let y of partials) {
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[i++] = lo;
      x = hi;
    }
    partials.length = i;
    if (x !== 0) partials.push(x);
  }
  if (special !== 0 || Number.isNaN(special)) return special;
  // Sum from the top, then correct the final rounding with the next partial (half-even), as CPython does.
  let n = partials.length;
  if (n === 0) return 0;
  let hi = partials[--n] as number;
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = partials[--n] as number;
    hi = x + y;
    const yr = hi - x;
    lo = y - yr;
    if (lo !== 0) break;
  }
  if (n > 0 && ((lo < 0 && (partials[n - 1] as number) < 0) || (lo > 0 && (partials[n - 1] as number) > 0))) {
    const y = lo * 2;
    const x = hi + y;
    const yr = x - hi;
    if (y === yr) hi = x;
  }
  return hi;
}

/** A sentence's length and n-gram counts (n = 1..maxN), computed once and reused across pairs. */
export interface NgramProfile {
  length: number;
  /** counts[n - 1]: n-gram → occurrences; tokens never hold whitespace, so a space joins them unambiguously. */
  counts: Map<string, number>[];
}

export function ngramProfile(tokens: readonly string[], maxN = 4): NgramProfile {
  const counts: Map<string, number>[] = [];
  for (let n = 1; n <= maxN; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = n === 1 ? (tokens[i] as string) : tokens.slice(i, i + n).join(' ');
      m.set(key, (m.get(key) ?? 0) + 1);
    }
    counts.push(m);
  }
  return { length: tokens.length, counts };
}

function precisionOf(
  references: readonly NgramProfile[],
  hyp: NgramProfile,
  n: number,
): { numerator: number; denominator: number } {
  const counts = hyp.counts[n - 1] as Map<string, number>;
  let numerator = 0;
  let total = 0;
  for (const [g, c] of counts) {
    let maxRef = 0;
    for (const r of references) maxRef = Math.max(maxRef, r.counts[n - 1]?.get(g) ?? 0);
    numerator += Math.min(c, maxRef);
    total += c;
  }
  return { numerator, denominator: Math.max(1, total) };
}

/** NLTK's `modified_precision` as an unreduced fraction (the smoothing reads the raw denominator). */
export function modifiedPrecision(
  references: readonly (readonly string[])[],
  hypothesis: readonly string[],
  n: number,
): { numerator: number; denominator: number } {
  return precisionOf(
    references.map((r) => ngramProfile(r, n)),
    ngramProfile(hypothesis, n),
    n,
  );
}

/** Length of the reference closest to the hypothesis length; ties go to the shorter reference. */
function closestRefLength(references: readonly NgramProfile[], hypLen: number): number {
  let best = Infinity;
  for (const { length } of references) {
    const d = Math.abs(length - hypLen);
    const bd = Math.abs(best - hypLen);
    if (d < bd || (d === bd && length < best)) best = length;
  }
  return best;
}

export interface BleuOptions {
  /** n-gram weights (default BLEU-4: four times 0.25). */
  weights?: readonly number[];
  /**
   * Smoothing: 'method1' adds epsilon to zero-match numerators (NLTK `SmoothingFunction().method1`,
   * what Agent0 uses); 'none' is NLTK's method0 (a zero precision contributes the smallest normal double).
   */
  smoothing?: 'method1' | 'none';
  /** Epsilon of method1 (NLTK default 0.1). */
  epsilon?: number;
}

/** sentence BLEU on precomputed profiles (each must hold n-grams up to the number of weights). */
export function sentenceBleuProfiles(
  references: readonly NgramProfile[],
  hyp: NgramProfile,
  opts: BleuOptions = {},
): number {
  if (references.length === 0) throw new Error('sentenceBleu: at least one reference is needed');
  const weights = opts.weights ?? [0.25, 0.25, 0.25, 0.25];
  const epsilon = opts.epsilon ?? 0.1;
  const p = weights.map((_, i) => precisionOf(references, hyp, i + 1));
  // No unigram match (an empty hypothesis included) gives 0, as NLTK does before any smoothing.
  if ((p[0]?.numerator ?? 0) === 0) return 0;
  const hypLen = hyp.length;
  const refLen = closestRefLength(references, hypLen);
  const bp = hypLen > refLen ? 1 : Math.exp(1 - refLen / hypLen);
  const smoothed = p.map(({ numerator, denominator }) => {
    if (numerator !== 0) return numerator / denominator;
    return opts.smoothing === 'none' ? 2 ** -1022 /* sys.float_info.min */ : (numerator + epsilon) / denominator;
  });
  const terms: number[] = [];
  weights.forEach((w, i) => {
    const pi = smoothed[i] as number;
    if (pi > 0) terms.push(w * Math.log(pi));
  });
  return bp * Math.exp(fsum(terms));
}

/** NLTK `sentence_bleu(references, hypothesis, weights, smoothing_function)` on token lists. */
export function sentenceBleu(
  references: readonly (readonly string[])[],
  hypothesis: readonly string[],
  opts: BleuOptions = {},
): number {
  const maxN = (opts.weights ?? [0.25, 0.25, 0.25, 0.25]).length;
  return sentenceBleuProfiles(
    references.map((r) => ngramProfile(r, maxN)),
    ngramProfile(hypothesis, maxN),
    opts,
  );
}

/** BLEU of two whitespace-tokenised sentences with method1 smoothing: Agent0's question similarity. */
export function sentenceBleuText(reference: string, hypothesis: string, opts: BleuOptions = {}): number {
  return sentenceBleu([pySplit(reference)], pySplit(hypothesis), opts);
}
