import { type Expr, parseExpr } from './expr-parse.js';
import { exact, numeric, symbols } from './evaluate.js';
import { decimalCommaReading, normalizeAnswer } from './normalize.js';
import * as R from './rational.js';
import { type Ans, parseItem, parseAnswer, relationValue } from './structure.js';

export interface CompareOptions {
  /** Relative tolerance for values that are not both exact (floating point, irrational, symbolic). */
  relTol: number;
  /** Absolute tolerance added to relTol (values that should be 0 but carry rounding noise). */
  absTol: number;
  /** A decimal prediction with at least this many decimals matches an exact gold it rounds (0.33 for 1/3). */
  roundedDecimals: number;
  /** Variable names matter (f(x) ≠ f(y)); when false, the prediction's variables map to gold's by order. */
  strictVariables: boolean;
  /** A gold set/interval also matches an equivalent predicted inequality (a gold inequality always accepts a set). */
  allowSetRelation: boolean;
  /** Random points at which symbolic expressions are compared. */
  points: number;
}

export const DEFAULT_COMPARE: CompareOptions = {
  relTol: 1e-6, absTol: 1e-12, roundedDecimals: 2, strictVariables: true, allowSetRelation: false, points: 8,
};

/** A symbolic fallback for expressions the local grammar cannot read: true, false, or null (undecided). */
export type SymbolicCheck = (gold: string, pred: string) => boolean | null;

interface Ctx { o: CompareOptions; symbolic?: SymbolicCheck }

const squash = (s: string): string => s.replace(/\s+/g, '');

/** Gold-led equivalence of two extracted answers. Pure and synchronous; run it where a timeout can stop it. */
export function compareAnswers(gold: string, pred: string, o: CompareOptions = DEFAULT_COMPARE, symbolic?: SymbolicCheck): boolean {
  const g = normalizeAnswer(gold);
  const p = normalizeAnswer(pred);
  if (!g || !p) return false;
  if (squash(g) === squash(p)) return true;
  const ctx: Ctx = { o, symbolic };
  if (eq(parseAnswer(g), parseAnswer(p), ctx)) return true;
  // `1,22` may be a decimal comma; read it so only when the other side is one number
  const gd = decimalCommaReading(g);
  const pd = decimalCommaReading(p);
  if (gd && isNumberLiteral(p)) return eq(parseAnswer(gd), parseAnswer(p), ctx);
  if (pd && isNumberLiteral(g)) return eq(parseAnswer(g), parseAnswer(pd), ctx);
  return false;
}

const isNumberLiteral = (s: string): boolean => /^-?(?:\d+(?:\.\d+)?|\.\d+)$/.test(s.trim());

function unwrap(a: Ans): Ans {
  while (a.k === 'list' && a.items.length === 1) a = a.items[0]!;
  return a;
}

function isSetLike(a: Ans): boolean {
  return (a.k === 'seq' && a.items.length === 2) || a.k === 'union' || a.k === 'in';
}

function eq(gIn: Ans, pIn: Ans, c: Ctx): boolean {
  const g = unwrap(gIn);
  const p = unwrap(pIn);
  if (g.k === 'in') {
    if (p.k === 'in') return eq(g.set, p.set, c);
    if (p.k === 'rel') return c.o.allowSetRelation && membershipEq(g, p, c);
    return eq(g.set, p, c);
  }
  if (p.k === 'in') {
    if (g.k === 'rel') return relationValue(g) === null ? membershipEq(g, p, c) : eq(parseItem(relationValue(g)!), p.set, c);
    return eq(g, p.set, c);
  }
  if (g.k === 'rel') {
    if (p.k === 'rel') return relEq(g, p, c);
    const v = relationValue(g);
    if (v !== null) return eq(parseItem(v), p, c);
    return isSetLike(p) && membershipEq(g, p, c);
  }
  if (p.k === 'rel') {
    const v = relationValue(p);
    if (v !== null) return eq(g, parseItem(v), c);
    return isSetLike(g) && c.o.allowSetRelation && membershipEq(g, p, c);
  }
  switch (g.k) {
    case 'list':
      return p.k === 'list' && setEq(g.items, p.items, c);
    case 'seq':
      if (p.k === 'seq') return p.open === g.open && p.close === g.close && seqEq(g.items, p.items, c);
      // a gold tuple against a bare list `{1,3}` (LaTeX braces group, they don't make a set): in order
      return p.k === 'list' && g.open === '(' && g.close === ')' && seqEq(g.items, p.items, c);
    case 'union':
      if (p.k === 'union' && setEq(g.items, p.items, c)) return true;
      return isSetLike(p) && membershipEq(g, p, c);
    case 'matrix':
      return p.k === 'matrix' && p.rows.length === g.rows.length
        && g.rows.every((r, i) => r.length === p.rows[i]!.length && r.every((x, j) => exprEq(x, p.rows[i]![j]!, c)));
    case 'ratio':
      if (p.k !== 'ratio' || p.items.length !== g.items.length) return false;
      return g.items.every((x, i) => exprEq(x, p.items[i]!, c)) || proportional(g.items, p.items, c);
    case 'text':
      return (p.k === 'text' || p.k === 'expr') && textEq(g.s, p.s);
    case 'expr':
      if (p.k === 'text') return textEq(g.s, p.s);
      return p.k === 'expr' && exprEq(g.s, p.s, c);
  }
}

function textEq(a: string, b: string): boolean {
  const t = (s: string) => s.toLowerCase().replace(/\\text\{([^}]*)\}/g, '$1').replace(/[\s.{}]/g, '').replace(/^\((.)\)$/, '$1');
  return t(a) === t(b);
}

function seqEq(g: Ans[], p: Ans[], c: Ctx): boolean {
  return g.length === p.length && g.every((x, i) => eq(x, p[i]!, c));
}

/** Same set of answers: duplicates allowed on either side, order free. */
function setEq(g: Ans[], p: Ans[], c: Ctx): boolean {
  const memo = new Map<string, boolean>();
  const m = (i: number, j: number) => {
    const key = `${i},${j}`;
    let v = memo.get(key);
    if (v === undefined) { v = eq(g[i]!, p[j]!, c); memo.set(key, v); }
    return v;
  };
  return g.every((_, i) => p.some((_, j) => m(i, j))) && p.every((_, j) => g.some((_, i) => m(i, j)));
}

function proportional(g: string[], p: string[], c: Ctx): boolean {
  if (g.length !== 2) return false;
  const v = [...g, ...p].map((s) => valueOf(s));
  if (v.some((x) => x === null || x === 0)) return false;
  const [a, b, x, y] = v as number[];
  return close(a! * y!, b! * x!, c.o);
}

// ---- expressions ----------------------------------------------------------------------------

function tryParse(s: string): Expr | null {
  try { return parseExpr(s); } catch { return null; }
}

function close(a: number, b: number, o: CompareOptions): boolean {
  return Math.abs(a - b) <= o.relTol * Math.max(Math.abs(a), Math.abs(b)) + o.absTol;
}

/** Digits after the point when the expression is a bare decimal literal (`-0.33`), else 0. */
function decimals(e: Expr): number {
  if (e.t === 'neg') return decimals(e.a);
  return e.t === 'num' ? e.dec : 0;
}

/** |x - y| ≤ ½·10^-d exactly: y is x rounded to d decimals. */
function roundsTo(x: R.Rational, y: R.Rational, d: number): boolean {
  const diff = R.sub(x, y);
  const n = diff.n < 0n ? -diff.n : diff.n;
  return n * 2n * 10n ** BigInt(d) <= diff.d;
}

function valueOf(s: string): number | null {
  const e = tryParse(s);
  if (!e || symbols(e).length) return null;
  const x = exact(e);
  const v = x ? R.toNumber(x) : numeric(e, new Map());
  return Number.isFinite(v) ? v : null;
}

function exprEq(g: string, p: string, c: Ctx): boolean {
  if (squash(g) === squash(p)) return true;
  const ge = tryParse(g);
  const pe = tryParse(p);
  if (!ge || !pe) return c.symbolic?.(g, p) === true;
  const o = c.o;
  const gx = exact(ge);
  const px = exact(pe);
  const dg = decimals(ge);
  const dp = decimals(pe);
  if (gx && px) {
    if (R.eq(gx, px)) return true;
    if (dp >= o.roundedDecimals && dg === 0 && roundsTo(gx, px, dp)) return true;
    // both written as decimals: equal when the more precise one rounds to the other
    // (an exact value against a decimal gold gets nothing: 100/3 is not the 33.3 that was asked for)
    return dg > 0 && dp > 0 && (roundsTo(px, gx, dg) || roundsTo(gx, px, dp));
  }
  return numericEq(ge, pe, c, dp);
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
function bindings(ge: Expr, pe: Expr, o: CompareOptions): { vars: string[]; rename: Map<string, string> } {
  const gs = symbols(ge);
  const ps = symbols(pe);
  const rename = new Map<string, string>();
  if (!o.strictVariables && gs.length === ps.length) ps.forEach((s, i) => rename.set(s, gs[i]!));
  const vars = [...new Set([...gs, ...ps.map((s) => rename.get(s) ?? s)])];
  return { vars, rename };
}

function* samplePoints(vars: string[], rename: Map<string, string>, n: number): Generator<[Map<string, number>, Map<string, number>]> {
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

function numericEq(ge: Expr, pe: Expr, c: Ctx, dp: number): boolean {
  const o = c.o;
  const { vars, rename } = bindings(ge, pe, o);
  if (!vars.length) {
    const a = numeric(ge, new Map());
    const b = numeric(pe, new Map());
    if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
    if (close(a, b, o)) return true;
    return dp >= o.roundedDecimals && Math.abs(a - b) <= 0.5 * 10 ** -dp * (1 + 1e-9);
  }
  let valid = 0;
  for (const [env, penv] of samplePoints(vars, rename, o.points)) {
    const a = numeric(ge, env);
    const b = numeric(pe, penv);
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    if (!close(a, b, { ...o, relTol: Math.max(o.relTol, 1e-9) })) return false;
    if (++valid >= o.points) break;
  }
  return valid >= Math.min(3, o.points);
}

// ---- relations ----------------------------------------------------------------------------------

const FLIP: Record<string, string> = { '>': '<', '≥': '≤' };

/** `a > b` as `b < a`: only < ≤ = ≠ ≈ remain. */
function orient(parts: string[], ops: string[]): { parts: string[]; ops: string[] } {
  if (ops.every((op) => FLIP[op])) return { parts: [...parts].reverse(), ops: [...ops].reverse().map((op) => FLIP[op]!) };
  return { parts, ops };
}

function relEq(g: { parts: string[]; ops: string[] }, p: { parts: string[]; ops: string[] }, c: Ctx): boolean {
  const gv = relationValue(g);
  const pv = relationValue(p);
  if (gv !== null && pv !== null && eq(parseItem(gv), parseItem(pv), c)) return true;
  const go = orient(g.parts, g.ops);
  const po = orient(p.parts, p.ops);
  if (g.ops.length === 1 && p.ops.length === 1) return go.ops[0] === po.ops[0] && formEq(go, po, c);
  if (go.ops.length === po.ops.length && go.ops.every((op, i) => op === po.ops[i]) && go.parts.every((x, i) => exprEq(x, po.parts[i]!, c))) {
    return true;
  }
  return membershipEq({ k: 'rel', ...g }, { k: 'rel', ...p }, c);
}

/** `L op R` vs `L' op R'`: L'-R' = k(L-R) for a constant k (k > 0 for inequalities). */
function formEq(g: { parts: string[]; ops: string[] }, p: { parts: string[]; ops: string[] }, c: Ctx): boolean {
  const diff = (r: { parts: string[] }): Expr | null => {
    const l = tryParse(r.parts[0]!);
    const rr = tryParse(r.parts[1]!);
    return l && rr ? { t: 'add', a: [l, { t: 'neg', a: rr }] } : null;
  };
  const fg = diff(g);
  const fp = diff(p);
  if (!fg || !fp) return false;
  const { vars, rename } = bindings(fg, fp, c.o);
  if (!vars.length) return false;
  const equality = g.ops[0] === '=' || g.ops[0] === '≠' || g.ops[0] === '≈';
  let k: number | null = null;
  let valid = 0;
  for (const [env, penv] of samplePoints(vars, rename, c.o.points)) {
    const a = numeric(fg, env);
    const b = numeric(fp, penv);
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    if (Math.abs(a) < 1e-9) { if (Math.abs(b) > 1e-6) return false; continue; }
    const r = b / a;
    if (k === null) {
      if (Math.abs(r) < 1e-12 || (!equality && r < 0)) return false;
      k = r;
    } else if (!close(k, r, { ...c.o, relTol: Math.max(c.o.relTol, 1e-9) })) return false;
    if (++valid >= c.o.points) break;
  }
  return valid >= Math.min(3, c.o.points);
}

// ---- sets and inequalities, compared as membership tests over one variable -------------------

interface Member { test(x: number): boolean; marks: number[] }

function numberOf(s: string): number | null {
  const e = tryParse(s);
  if (!e || symbols(e).length) return null;
  const x = exact(e);
  const v = x ? R.toNumber(x) : numeric(e, new Map());
  return Number.isNaN(v) ? null : v;
}

function member(a: Ans): Member | null {
  a = unwrap(a);
  if (a.k === 'in') return member(a.set);
  if (a.k === 'seq' && a.items.length === 2 && a.items.every((x) => x.k === 'expr')) {
    const lo = numberOf((a.items[0] as { s: string }).s);
    const hi = numberOf((a.items[1] as { s: string }).s);
    if (lo === null || hi === null) return null;
    const lc = a.open === '[';
    const hc = a.close === ']';
    return { test: (x) => (lc ? x >= lo : x > lo) && (hc ? x <= hi : x < hi), marks: [lo, hi] };
  }
  if (a.k === 'union') {
    const ms = a.items.map(member);
    if (ms.some((m) => !m)) return null;
    return { test: (x) => ms.some((m) => m!.test(x)), marks: ms.flatMap((m) => m!.marks) };
  }
  if (a.k === 'rel' && a.ops.every((op) => op !== '=' && op !== '≈')) {
    const vals = a.parts.map(numberOf);
    const free = vals.flatMap((v, i) => (v === null ? [i] : []));
    if (free.length !== 1) return null;
    const at = free[0]!;
    const e = tryParse(a.parts[at]!);
    const syms = e ? symbols(e) : [];
    // `0 < f(x) < 1` bounds the value f(x) itself; `1 ≤ |z| ≤ 2` bounds z through |z|
    const named = !e || e.t === 'sym' || (e.t === 'fn' && e.name.startsWith('user:'));
    if (!named && syms.length !== 1) return null;
    const f = !named ? (x: number) => numeric(e!, new Map([[syms[0]!, x]])) : (x: number) => x;
    const cmp = (l: number, op: string, r: number) => (op === '<' ? l < r : op === '>' ? l > r : op === '≤' ? l <= r : op === '≥' ? l >= r : l !== r);
    return {
      test: (x) => {
        const v = vals.map((n, i) => (i === at ? f(x) : n!));
        return a.ops.every((op, i) => cmp(v[i]!, op, v[i + 1]!));
      },
      marks: vals.filter((v): v is number => v !== null),
    };
  }
  return null;
}

function membershipEq(g: Ans, p: Ans, _c: Ctx): boolean {
  const mg = member(g);
  const mp = member(p);
  if (!mg || !mp) return false;
  const marks = [...new Set([...mg.marks, ...mp.marks].filter(Number.isFinite))].sort((x, y) => x - y);
  const pts = [0, 1e6, -1e6];
  for (const [i, m] of marks.entries()) {
    const d = 1e-7 * Math.max(1, Math.abs(m));
    pts.push(m, m - d, m + d, -m);
    if (i + 1 < marks.length) pts.push((m + marks[i + 1]!) / 2);
  }
  if (marks.length) pts.push(marks[0]! - 1, marks[marks.length - 1]! + 1);
  return pts.every((x) => mg.test(x) === mp.test(x));
}
