import type { Expr } from './expr-parse.js';
import * as R from './rational.js';

/** The exact rational value of an expression without symbols, or null (irrational, symbolic or too large). */
export function exact(e: Expr): R.Rational | null {
  switch (e.t) {
    case 'num':
      return e.v;
    case 'neg': {
      const a = exact(e.a);
      return a && R.neg(a);
    }
    case 'add': {
      let acc = R.rat(0n);
      for (const x of e.a) {
        const v = exact(x);
        if (!v) return null;
        acc = R.add(acc, v);
      }
      return acc;
    }
    case 'mul': {
      let acc = R.rat(1n);
      for (const x of e.a) {
        const v = exact(x);
        if (!v) return null;
        acc = R.mul(acc, v);
      }
      return acc;
    }
    case 'div': {
      const a = exact(e.a);
      const b = exact(e.b);
      return a && b && R.div(a, b);
    }
    case 'pow': {
      const a = exact(e.a);
      const b = exact(e.b);
      if (!a || !b) return null;
      if (R.isInt(b)) return R.powInt(a, b.n);
      // (p/q)^(m/k): exact only when the k-th root is
      const root = R.rootExact(a, b.d);
      return root && R.powInt(root, b.n);
    }
    case 'root': {
      const a = exact(e.a);
      const k = exact(e.k);
      return a && k && R.isInt(k) ? R.rootExact(a, k.n) : null;
    }
    case 'fact': {
      const a = exact(e.a);
      return a && R.factorial(a);
    }
    case 'fn': {
      if (e.name === 'binom') {
        const n = exact(e.args[0]!);
        const k = exact(e.args[1]!);
        return n && k ? R.binomial(n, k) : null;
      }
      if (e.name !== 'abs') return null;
      const a = exact(e.args[0]!);
      return a && (a.n < 0n ? R.neg(a) : a);
    }
    default:
      return null;
  }
}

/** Symbols in order of first appearance (bound summation indices excluded). */
export function symbols(e: Expr, out: string[] = [], bound: Set<string> = new Set()): string[] {
  switch (e.t) {
    case 'sym':
      if (!bound.has(e.name) && !out.includes(e.name)) out.push(e.name);
      break;
    case 'add':
    case 'mul':
      e.a.forEach((x) => symbols(x, out, bound));
      break;
    case 'neg':
    case 'fact':
      symbols(e.a, out, bound);
      break;
    case 'div':
    case 'pow':
      symbols(e.a, out, bound);
      symbols(e.b, out, bound);
      break;
    case 'root':
      symbols(e.a, out, bound);
      symbols(e.k, out, bound);
      break;
    case 'fn':
      e.args.forEach((x) => symbols(x, out, bound));
      break;
    case 'sum': {
      symbols(e.lo, out, bound);
      symbols(e.hi, out, bound);
      symbols(e.body, out, new Set([...bound, e.v]));
      break;
    }
    default:
      break;
  }
  return out;
}

/** A fixed smooth "unknown function" per name, so f(x) vs f(y) differ and F_k F_j commute. */
function unknownFn(name: string, x: number): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  const a = 0.5 + ((h >>> 0) % 1000) / 1000;
  const b = ((h >>> 10) % 1000) / 500;
  return Math.sin(a * x + b) + 0.3 * a * x + 1.7;
}

function gammaInt(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 170) return NaN;
  let r = 1;
  for (let i = 2; i <= n; i++) r *= i;
  return r;
}

const FN: Record<string, (x: number, b?: number) => number> = {
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  sec: (x) => 1 / Math.cos(x),
  csc: (x) => 1 / Math.sin(x),
  cot: (x) => 1 / Math.tan(x),
  arcsin: Math.asin,
  arccos: Math.acos,
  arctan: Math.atan,
  sinh: Math.sinh,
  cosh: Math.cosh,
  tanh: Math.tanh,
  ln: Math.log,
  exp: Math.exp,
  lg: Math.log10,
  abs: Math.abs,
  binom: (n, k) => {
    if (!Number.isInteger(n) || !Number.isInteger(k!) || k! < 0 || k! > n) return NaN;
    let r = 1;
    for (let i = 1; i <= k!; i++) r = (r * (n - k! + i)) / i;
    return Math.round(r);
  },
  log: (x, b) => (b === undefined ? Math.log(x) : Math.log(x) / Math.log(b)),
};

/** Floating-point value with symbols bound by `env`; NaN outside the domain. */
export function numeric(e: Expr, env: Map<string, number>): number {
  switch (e.t) {
    case 'num':
      return R.toNumber(e.v);
    case 'sym': {
      const v = env.get(e.name);
      return v === undefined ? NaN : v;
    }
    case 'const':
      return e.name === 'pi' ? Math.PI : e.name === 'e' ? Math.E : Infinity;
    case 'neg':
      return -numeric(e.a, env);
    case 'add':
      return e.a.reduce((s, x) => s + numeric(x, env), 0);
    case 'mul':
      return e.a.reduce((s, x) => s * numeric(x, env), 1);
    case 'div':
      return numeric(e.a, env) / numeric(e.b, env);
    case 'pow': {
      const a = numeric(e.a, env);
      const b = numeric(e.b, env);
      if (a < 0 && !Number.isInteger(b)) {
        // real odd roots of negatives: (-8)^(1/3) = -2
        const q = exact(e.b);
        if (q && q.d % 2n === 1n) return (q.n % 2n === 0n ? 1 : -1) * Math.abs(a) ** b;
      }
      return a ** b;
    }
    case 'root': {
      const a = numeric(e.a, env);
      const k = numeric(e.k, env);
      if (a < 0 && Number.isInteger(k) && k % 2 === 1) return -((-a) ** (1 / k));
      return a ** (1 / k);
    }
    case 'fact':
      return gammaInt(Math.round(numeric(e.a, env) * 1e9) / 1e9);
    case 'fn': {
      const args = e.args.map((x) => numeric(x, env));
      const f = FN[e.name];
      if (f) return f(args[0]!, args[1]);
      return unknownFn(e.name, args[0]!);
    }
    case 'sum': {
      const lo = numeric(e.lo, env);
      const hi = numeric(e.hi, env);
      if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi - lo > 10_000) return NaN;
      let acc = e.prod ? 1 : 0;
      const inner = new Map(env);
      for (let k = lo; k <= hi; k++) {
        inner.set(e.v, k);
        const v = numeric(e.body, inner);
        acc = e.prod ? acc * v : acc + v;
      }
      return acc;
    }
  }
}
