import { type CompareOptions, type Ctx, DEFAULT_COMPARE, type SymbolicCheck } from './compare-options.js';
import { close, exprEq, squash, valueOf } from './expr-compare.js';
import { decimalCommaReading, normalizeAnswer } from './normalize.js';
import { membershipEq, relEq } from './relations.js';
import { type Ans, parseItem, parseAnswer, relationValue, unwrap } from './structure.js';

export { type CompareOptions, DEFAULT_COMPARE, type SymbolicCheck } from './compare-options.js';

/** Gold-led equivalence of two extracted answers. Pure and synchronous; run it where a timeout can stop it. */
export function compareAnswers(
  gold: string,
  pred: string,
  o: CompareOptions = DEFAULT_COMPARE,
  symbolic?: SymbolicCheck,
): boolean {
  const g = normalizeAnswer(gold);
  const p = normalizeAnswer(pred);
  if (!g || !p) return false;
  if (squash(g) === squash(p)) return true;
  const ctx: Ctx = { o, symbolic, eq };
  if (eq(parseAnswer(g), parseAnswer(p), ctx)) return true;
  // `1,22` may be a decimal comma; read it so only when the other side is one number
  const gd = decimalCommaReading(g);
  const pd = decimalCommaReading(p);
  if (gd && isNumberLiteral(p)) return eq(parseAnswer(gd), parseAnswer(p), ctx);
  if (pd && isNumberLiteral(g)) return eq(parseAnswer(g), parseAnswer(pd), ctx);
  // a percent on one side only: `28\%` is also 0.28
  const gp = PERCENT.test(gold);
  const pp = PERCENT.test(pred);
  if (gp !== pp) {
    const [a, b] = gp ? [`(${g})/100`, p] : [g, `(${p})/100`];
    const single = (x: string) => parseAnswer(x).k === 'expr';
    if (single(g) && single(p)) return eq({ k: 'expr', s: a }, { k: 'expr', s: b }, ctx);
  }
  return false;
}

const PERCENT = /%|\bpercent(?:age)?\b|\bpct\b/;

const isNumberLiteral = (s: string): boolean => /^-?(?:\d+(?:\.\d+)?|\.\d+)$/.test(s.trim());

function isSetLike(a: Ans): boolean {
  return (a.k === 'seq' && a.items.length === 2) || a.k === 'union' || a.k === 'in';
}

function eq(gIn: Ans, pIn: Ans, c: Ctx): boolean {
  const g = unwrap(gIn);
  const p = unwrap(pIn);
  if (g.k === 'in') {
    if (p.k === 'in') return eq(g.set, p.set, c);
    if (p.k === 'rel') return c.o.allowSetRelation && membershipEq(g, p);
    return eq(g.set, p, c);
  }
  if (p.k === 'in') {
    if (g.k === 'rel')
      return relationValue(g) === null ? membershipEq(g, p) : eq(parseItem(relationValue(g)!), p.set, c);
    return eq(g, p.set, c);
  }
  if (g.k === 'rel') {
    if (p.k === 'rel') return relEq(g, p, c);
    const v = relationValue(g);
    if (v !== null) return eq(parseItem(v), p, c);
    return isSetLike(p) && membershipEq(g, p);
  }
  if (p.k === 'rel') {
    const v = relationValue(p);
    if (v !== null) return eq(g, parseItem(v), c);
    return isSetLike(g) && c.o.allowSetRelation && membershipEq(g, p);
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
      return isSetLike(p) && membershipEq(g, p);
    case 'matrix':
      return (
        p.k === 'matrix' &&
        p.rows.length === g.rows.length &&
        g.rows.every((r, i) => r.length === p.rows[i]!.length && r.every((x, j) => exprEq(x, p.rows[i]![j]!, c)))
      );
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
  const t = (s: string) =>
    s
      .toLowerCase()
      .replace(/\\text\{([^}]*)\}/g, '$1')
      .replace(/[\s.{}]/g, '')
      .replace(/^\((.)\)$/, '$1');
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
    if (v === undefined) {
      v = eq(g[i]!, p[j]!, c);
      memo.set(key, v);
    }
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
