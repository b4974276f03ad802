import { type Expr, parseExpr } from './expr-parse.js';
import { exact, numeric, symbols } from './evaluate.js';
import type { CompareOptions, Ctx } from './compare-options.js';
import { type C, complexValue, hasImaginaryUnit } from './complex.js';
import * as R from './rational.js';

// Expressions: exact rationals when both sides are exact, else values at random points.

export const squash = (s: string): string => s.replace(/\s+/g, '');

export function tryParse(s: string): Expr | null {
  try {
    return parseExpr(s);
  } catch {
    return null;
  }
}

export function close(a: number, b: number, o: CompareOptions): boolean {
  return Math.abs(a - b) <= o.relTol * Math.max(Math.abs(a), Math.abs(b)) + o.absTol;
}

/** Digits after the point when the expression is a bare decimal literal (`-0.33`), else 0. */
function decimals(e: Expr): number {
  if (e.t === 'neg') return decimals(e.a);
  return e.t === 'num' ? e.dec : 0;
}

/** round(x · 10^d) with ties to even, for a float (a value that is not exact). */
function roundFloat(x: number, d: number): number {
  const y = x * 10 ** d;
  const f = Math.floor(y);
  const frac = y - f;
  return frac > 0.5 || (frac === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

/** The value of an expression without free symbols, rounded to d decimals (scaled by 10^d); null when it has none. */
function rounded(e: Expr, x: R.Rational | null, d: number): number | bigint | null {
  if (x) return R.roundScaled(x, d);
  if (symbols(e).length) return null;
  const v = numeric(e, new Map());
  return Number.isFinite(v) ? roundFloat(v, d) : null;
}

/**
 * Math-Verify's rule when a side is a written decimal: equal when both values, rounded to
 * `floatRounding` decimals (ties to even, as sympy's round), agree. Exactly when both are exact.
 */
function roundedEq(ge: Expr, gx: R.Rational | null, pe: Expr, px: R.Rational | null, d: number): boolean {
  const a = rounded(ge, gx, d);
  const b = rounded(pe, px, d);
  if (a === null || b === null) return false;
  return typeof a === typeof b ? a === b : Number(a) === Number(b);
}

export function valueOf(s: string): number | null {
  const e = tryParse(s);
  if (!e || symbols(e).length) return null;
  const x = exact(e);
  const v = x ? R.toNumber(x) : numeric(e, new Map());
  return Number.isFinite(v) ? v : null;
}

export function exprEq(g: string, p: string, c: Ctx): boolean {
  if (squash(g) === squash(p)) return true;
  const ge = tryParse(g);
  const pe = tryParse(p);
  if (!ge || !pe) return c.symbolic?.(g, p, c.o) === true;
  const o = c.o;
  const gx = exact(ge);
  const px = exact(pe);
  if (gx && px && R.eq(gx, px)) return true;
  // a written decimal (`0.33`, `-12.566`) is read to floatRounding decimals, on either side
  if (decimals(ge) > 0 || decimals(pe) > 0) return roundedEq(ge, gx, pe, px, o.floatRounding);
  if (gx && px) return false;
  return numericEq(ge, pe, c);
}

/** A small deterministic generator: verdicts must not depend on the call. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Symbol lists of both sides, with the prediction's renamed to gold's by order when not strict. */
export function bindings(ge: Expr, pe: Expr, o: CompareOptions): { vars: string[]; rename: Map<string, string> } {
  const gs = symbols(ge);
  const ps = symbols(pe);
  const rename = new Map<string, string>();
  if (!o.strictVariables && gs.length === ps.length) ps.forEach((s, i) => rename.set(s, gs[i]!));
  const vars = [...new Set([...gs, ...ps.map((s) => rename.get(s) ?? s)])];
  return { vars, rename };
}

export function* samplePoints(
  vars: string[],
  rename: Map<string, string>,
  n: number,
): Generator<[Map<string, number>, Map<string, number>]> {
  const rnd = mulberry32(0x5eed);
  for (let attempt = 0; attempt < n * 4; attempt++) {
    const env = new Map<string, number>();
    for (const v of vars) {
      // every third point is integer-valued, so that sums with symbolic bounds can be evaluated, and
      // every third may be negative, so that |x| and x (or sqrt(x^2) and x) differ
      const mag = 0.15 + rnd() * 2.6;
      env.set(v, attempt % 3 === 2 ? 1 + Math.floor(rnd() * 7) : attempt % 3 === 1 && rnd() < 0.6 ? -mag : mag);
    }
    const penv = new Map(env);
    for (const [from, to] of rename) penv.set(from, env.get(to)!);
    yield [env, penv];
  }
}

function numericEq(ge: Expr, pe: Expr, c: Ctx): boolean {
  if (hasImaginaryUnit(ge) || hasImaginaryUnit(pe)) return complexEq(ge, pe, c);
  const o = c.o;
  const { vars, rename } = bindings(ge, pe, o);
  if (!vars.length) {
    const a = numeric(ge, new Map());
    const b = numeric(pe, new Map());
    return Number.isFinite(a) && Number.isFinite(b) && close(a, b, o);
  }
  let valid = 0;
  const tol = { ...o, relTol: Math.max(o.relTol, 1e-9) };
  for (const [env, penv] of samplePoints(vars, rename, o.points)) {
    const a = numeric(ge, env);
    const b = numeric(pe, penv);
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    if (!close(a, b, tol)) return false;
    if (++valid >= o.points) break;
  }
  return valid >= Math.min(3, o.points);
}

/** Both sides as complex values (`i` is the imaginary unit), at random points for the other symbols. */
function complexEq(ge: Expr, pe: Expr, c: Ctx): boolean {
  const o = c.o;
  const { vars, rename } = bindings(ge, pe, o);
  const free = vars.filter((v) => v !== 'i');
  const tol = { ...o, relTol: Math.max(o.relTol, 1e-9) };
  const same = (a: C, b: C) => close(a.re, b.re, tol) && close(a.im, b.im, tol);
  const finite = (a: C) => Number.isFinite(a.re) && Number.isFinite(a.im);
  let valid = 0;
  for (const [env, penv] of samplePoints(free, rename, o.points)) {
    const a = complexValue(ge, env);
    const b = complexValue(pe, penv);
    if (!finite(a) || !finite(b)) continue;
    if (!same(a, b)) return false;
    if (++valid >= (free.length ? o.points : 1)) break;
  }
  return valid >= Math.min(free.length ? 3 : 1, o.points);
}
