import type { Expr } from './expr-parse.js';
import { numeric } from './evaluate.js';

/** A complex value; answers with `i` (3+4i, (1+i)^2, e^{i\pi}) are compared through these. */
export interface C {
  re: number;
  im: number;
}

const c = (re: number, im = 0): C => ({ re, im });
const NAN = c(NaN, NaN);
const add = (a: C, b: C): C => c(a.re + b.re, a.im + b.im);
const mul = (a: C, b: C): C => c(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
function div(a: C, b: C): C {
  const d = b.re * b.re + b.im * b.im;
  return d === 0 ? NAN : c((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d);
}
const exp = (a: C): C => c(Math.exp(a.re) * Math.cos(a.im), Math.exp(a.re) * Math.sin(a.im));
const log = (a: C): C => c(Math.log(Math.hypot(a.re, a.im)), Math.atan2(a.im, a.re));

/** True when the free symbol `i` (the imaginary unit) occurs. */
export function hasImaginaryUnit(e: Expr): boolean {
  switch (e.t) {
    case 'sym':
      return e.name === 'i';
    case 'add':
    case 'mul':
      return e.a.some(hasImaginaryUnit);
    case 'neg':
    case 'fact':
      return hasImaginaryUnit(e.a);
    case 'div':
    case 'pow':
      return hasImaginaryUnit(e.a) || hasImaginaryUnit(e.b);
    case 'root':
      return hasImaginaryUnit(e.a) || hasImaginaryUnit(e.k);
    case 'fn':
      return e.name === 'abs' && e.args.some(hasImaginaryUnit);
    default:
      return false;
  }
}

const ARITH = new Set(['neg', 'add', 'mul', 'div', 'pow', 'root', 'fn']);

function pow(a: C, b: C): C {
  if (b.im === 0 && Number.isInteger(b.re) && Math.abs(b.re) <= 64) {
    let r = c(1);
    for (let k = 0; k < Math.abs(b.re); k++) r = mul(r, a);
    return b.re < 0 ? div(c(1), r) : r;
  }
  if (a.re === 0 && a.im === 0) return b.re > 0 ? c(0) : NAN;
  return exp(mul(b, log(a)));
}

/**
 * Value with `i` as the imaginary unit and other symbols bound by `env` (principal branches).
 * Sub-expressions without `i` use the real evaluator, so real-only conventions (odd roots of
 * negatives, sums, factorials, functions) stay the same as for real answers.
 */
export function complexValue(e: Expr, env: Map<string, number>): C {
  if (!hasImaginaryUnit(e)) {
    // real where the real evaluator is defined; `\sqrt{-1}` and friends go on in complex arithmetic
    const r = numeric(e, env);
    if (!Number.isNaN(r) || !ARITH.has(e.t)) return c(r);
  }
  switch (e.t) {
    case 'sym':
      return e.name === 'i' ? c(0, 1) : c(env.get(e.name) ?? NaN);
    case 'neg': {
      const a = complexValue(e.a, env);
      return c(-a.re, -a.im);
    }
    case 'add':
      return e.a.reduce((s, x) => add(s, complexValue(x, env)), c(0));
    case 'mul':
      return e.a.reduce((s, x) => mul(s, complexValue(x, env)), c(1));
    case 'div':
      return div(complexValue(e.a, env), complexValue(e.b, env));
    case 'pow':
      return pow(complexValue(e.a, env), complexValue(e.b, env));
    case 'root':
      return pow(complexValue(e.a, env), div(c(1), complexValue(e.k, env)));
    case 'fn': {
      if (e.name !== 'abs') return NAN;
      const a = complexValue(e.args[0]!, env);
      return c(Math.hypot(a.re, a.im));
    }
    default:
      return c(numeric(e, env));
  }
}
