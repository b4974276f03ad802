import type { Expr } from './expr-parse.js';
import { exact, numeric, symbols } from './evaluate.js';
import type { Ctx } from './compare-options.js';
import { bindings, close, exprEq, samplePoints, tryParse } from './expr-compare.js';
import * as R from './rational.js';
import { type Ans, parseItem, relationValue, unwrap } from './structure.js';

// Relations (equations up to a factor, flipped inequalities) and sets compared as membership tests.

const FLIP: Record<string, string> = { '>': '<', '≥': '≤' };

/** `a > b` as `b < a`: only < ≤ = ≠ ≈ remain. */
function orient(parts: string[], ops: string[]): { parts: string[]; ops: string[] } {
  if (ops.every((op) => FLIP[op]))
    return { parts: [...parts].reverse(), ops: [...ops].reverse().map((op) => FLIP[op]!) };
  return { parts, ops };
}

export function relEq(g: { parts: string[]; ops: string[] }, p: { parts: string[]; ops: string[] }, c: Ctx): boolean {
  const gv = relationValue(g);
  const pv = relationValue(p);
  if (gv !== null && pv !== null && c.eq(parseItem(gv), parseItem(pv), c)) return true;
  const go = orient(g.parts, g.ops);
  const po = orient(p.parts, p.ops);
  if (g.ops.length === 1 && p.ops.length === 1) return go.ops[0] === po.ops[0] && formEq(go, po, c);
  if (
    go.ops.length === po.ops.length &&
    go.ops.every((op, i) => op === po.ops[i]) &&
    go.parts.every((x, i) => exprEq(x, po.parts[i]!, c))
  ) {
    return true;
  }
  return membershipEq({ k: 'rel', ...g }, { k: 'rel', ...p });
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
    if (Math.abs(a) < 1e-9) {
      if (Math.abs(b) > 1e-6) return false;
      continue;
    }
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

interface Member {
  test(x: number): boolean;
  marks: number[];
}

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
    const cmp = (l: number, op: string, r: number) =>
      op === '<' ? l < r : op === '>' ? l > r : op === '≤' ? l <= r : op === '≥' ? l >= r : l !== r;
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

export function membershipEq(g: Ans, p: Ans): boolean {
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
