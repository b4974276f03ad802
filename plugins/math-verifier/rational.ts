/** Exact rationals over BigInt, so that 2^{100} vs 2^{99} or 1/30! compare exactly. */
export interface Rational {
  n: bigint;
  d: bigint;
}

/** Results past this many bits are abandoned (the caller falls back to floating point). */
const MAX_BITS = 20_000n;

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b) [a, b] = [b, a % b];
  return a;
}

export function rat(n: bigint, d: bigint = 1n): Rational {
  if (d === 0n) throw new RangeError('division by zero');
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const g = gcd(n, d);
  return g > 1n ? { n: n / g, d: d / g } : { n, d };
}

/** Parses a plain decimal literal such as `-12.50` or `.4` exactly. */
export function ratFromDecimal(s: string): Rational | null {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[2] === '' && !m[3])) return null;
  const frac = m[3] ?? '';
  const n = BigInt((m[2] || '0') + frac) * (m[1] === '-' ? -1n : 1n);
  return rat(n, 10n ** BigInt(frac.length));
}

export const add = (a: Rational, b: Rational): Rational => rat(a.n * b.d + b.n * a.d, a.d * b.d);
export const sub = (a: Rational, b: Rational): Rational => rat(a.n * b.d - b.n * a.d, a.d * b.d);
export const mul = (a: Rational, b: Rational): Rational => rat(a.n * b.n, a.d * b.d);
export const neg = (a: Rational): Rational => ({ n: -a.n, d: a.d });
export function div(a: Rational, b: Rational): Rational | null {
  return b.n === 0n ? null : rat(a.n * b.d, a.d * b.n);
}
export const eq = (a: Rational, b: Rational): boolean => a.n === b.n && a.d === b.d;
export const isInt = (a: Rational): boolean => a.d === 1n;

function bits(x: bigint): bigint {
  return BigInt((x < 0n ? -x : x).toString(2).length);
}

/** a^k for an integer k; null when the result would be too large to be worth exact arithmetic. */
export function powInt(a: Rational, k: bigint): Rational | null {
  if (k === 0n) return rat(1n);
  if (k < 0n) {
    if (a.n === 0n) return null;
    return powInt(rat(a.d, a.n), -k);
  }
  if ((bits(a.n) + bits(a.d)) * k > MAX_BITS) return null;
  return rat(a.n ** k, a.d ** k);
}

/** Exact integer k-th root of a non-negative integer, or null. */
function intRoot(x: bigint, k: bigint): bigint | null {
  if (x < 0n) return null;
  if (x < 2n) return x;
  const approx = BigInt(Math.round(Number(x) ** (1 / Number(k))));
  for (const c of [approx - 1n, approx, approx + 1n]) if (c >= 0n && c ** k === x) return c;
  return null;
}

/** Exact k-th root when numerator and denominator are perfect powers (e.g. sqrt(9/4) = 3/2). */
export function rootExact(a: Rational, k: bigint): Rational | null {
  // a k-th root with k > 1000 is only an integer for 0 and ±1, and trying candidates would cost c^k
  if (k <= 0n || bits(a.n) > 1000n || (k > 1000n && a.n * a.n !== a.d * a.d && a.n !== 0n)) return null;
  if (a.n < 0n) {
    if (k % 2n === 0n) return null;
    const r = rootExact(neg(a), k);
    return r && neg(r);
  }
  const n = intRoot(a.n, k);
  const d = intRoot(a.d, k);
  return n === null || d === null ? null : rat(n, d);
}

export function factorial(a: Rational): Rational | null {
  if (a.d !== 1n || a.n < 0n || a.n > 2000n) return null;
  let r = 1n;
  for (let i = 2n; i <= a.n; i++) r *= i;
  return rat(r);
}

/** C(n, k) for integers 0 ≤ k ≤ n ≤ 10000; null otherwise. */
export function binomial(n: Rational, k: Rational): Rational | null {
  if (n.d !== 1n || k.d !== 1n || k.n < 0n || n.n < 0n || k.n > n.n || n.n > 10_000n) return null;
  let r = 1n;
  const kk = k.n < n.n - k.n ? k.n : n.n - k.n;
  for (let i = 1n; i <= kk; i++) r = (r * (n.n - kk + i)) / i;
  return rat(r);
}

/** Float value; huge or tiny values keep their ratio via scaling so they stay finite when representable. */
export function toNumber(a: Rational): number {
  const v = Number(a.n) / Number(a.d);
  if (Number.isFinite(v) && v !== 0) return v;
  if (a.n === 0n) return 0;
  const shift = bits(a.n) - bits(a.d) - 60n;
  const scaled =
    shift > 0n ? Number(a.n / (a.d << shift)) * 2 ** Number(shift) : Number((a.n << -shift) / a.d) * 2 ** Number(shift);
  return scaled;
}

/** round(a · 10^digits) with ties to even (as sympy's `round`, which Math-Verify compares with). */
export function roundScaled(a: Rational, digits: number): bigint {
  const scaled = a.n * 10n ** BigInt(digits);
  const q = scaled / a.d;
  const r = scaled % a.d;
  // q truncates towards zero; step to the floor, then compare the remainder with one half
  const [fl, rem] = r < 0n ? [q - 1n, r + a.d] : [q, r];
  const twice = 2n * rem;
  if (twice > a.d || (twice === a.d && fl % 2n !== 0n)) return fl + 1n;
  return fl;
}
