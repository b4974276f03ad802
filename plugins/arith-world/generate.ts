import type { Rng } from '../../core/index.js';
import { type BinOp, type Expr, evalExpr, formatExpr, ArithError } from './expr.js';

/** Operators a generated problem may use (`/` is always exact). */
export type GenOp = '+' | '-' | '*' | '/' | '%' | '**';
export const GEN_OPS: readonly GenOp[] = ['+', '-', '*', '/', '%', '**'];

/** The difficulty knob of the generator. */
export interface Difficulty {
  /** Digits of each number, drawn uniformly in [minDigits, maxDigits]. */
  minDigits: number;
  maxDigits: number;
  /** Binary operations per problem, drawn uniformly in [minOps, maxOps]. */
  minOps: number;
  maxOps: number;
  operators: GenOp[];
  /** Share of problems (with 2+ operations) that must contain parentheses; the rest have none. */
  parenProb: number;
  /** Share of one-operation problems written as a short templated word problem. */
  wordProb: number;
  /** Powers: base in [2, powBaseMax], exponent in [2, powExpMax]. */
  powBaseMax: number;
  powExpMax: number;
}

export const DEFAULT_DIFFICULTY: Difficulty = {
  minDigits: 1,
  maxDigits: 1,
  minOps: 1,
  maxOps: 1,
  operators: ['+', '-', '*'],
  parenProb: 0.3,
  wordProb: 0,
  powBaseMax: 12,
  powExpMax: 3,
};

/** A generated problem: the text the model sees, its arithmetic and its true answer. */
export interface Problem {
  text: string;
  /** The arithmetic of the problem in expression notation (equals `text` unless a word problem). */
  expr: string;
  answer: bigint;
  kind: 'expr' | 'word';
  ops: number;
  /** Largest number of digits of any number in the problem. */
  maxDigits: number;
}

function literal(rng: Rng, digits: number, min = 0): bigint {
  const lo = Math.max(min, digits <= 1 ? 1 : 10 ** (digits - 1));
  const hi = Math.max(lo, 10 ** digits - 1);
  return BigInt(rng.int(lo, hi));
}

const num = (value: bigint): Expr => ({ type: 'num', value });

function pickDigits(rng: Rng, d: Difficulty): number {
  return rng.int(d.minDigits, d.maxDigits);
}

/** Divisors of |v| within [lo, hi] (v ≠ 0), found by trial (hi is at most a few thousand). */
function divisorsIn(v: bigint, lo: number, hi: number): number[] {
  const a = v < 0n ? -v : v;
  const out: number[] = [];
  for (let k = Math.max(2, lo); k <= hi; k++) if (a % BigInt(k) === 0n) out.push(k);
  return out;
}

/** A random tree with exactly `nOps` binary operations; null when `/` found no exact divisor. */
function genTree(rng: Rng, d: Difficulty, nOps: number): Expr | null {
  if (nOps === 0) return num(literal(rng, pickDigits(rng, d)));
  let ops = d.operators.filter((o) => o !== '**' || nOps === 1);
  if (ops.length === 0) ops = ['+'];
  const op = rng.choice(ops);
  if (op === '**') {
    return {
      type: 'bin',
      op,
      left: num(BigInt(rng.int(2, Math.max(2, d.powBaseMax)))),
      right: num(BigInt(rng.int(2, Math.max(2, d.powExpMax)))),
    };
  }
  if (op === '%') {
    const left = genTree(rng, d, nOps - 1);
    return left && { type: 'bin', op, left, right: num(literal(rng, pickDigits(rng, d), 2)) };
  }
  if (op === '/') {
    const left = genTree(rng, d, nOps - 1);
    if (!left) return null;
    const v = evalExpr(left);
    const digits = pickDigits(rng, d);
    const lo = digits <= 1 ? 2 : 10 ** (digits - 1);
    const divs = v === 0n ? [] : divisorsIn(v, lo, 10 ** digits - 1);
    if (divs.length === 0) return null;
    return { type: 'bin', op, left, right: num(BigInt(rng.choice(divs))) };
  }
  const k = rng.int(0, nOps - 1);
  const left = genTree(rng, d, k);
  const right = left && genTree(rng, d, nOps - 1 - k);
  return left && right ? { type: 'bin', op: op as BinOp, left, right } : null;
}

const NAMES = ['Ann', 'Bob', 'Cleo', 'Dan', 'Eva', 'Finn', 'Gus', 'Hana'];
const ITEMS = ['apple', 'book', 'coin', 'card', 'shell', 'stamp', 'marble', 'pen'];

/** One-operation word problems; `{a}`/`{b}` are the operands, `{n}` a name, `{i}` an item (plural). */
const WORD_TEMPLATES: Record<'+' | '-' | '*' | '/', string[]> = {
  '+': [
    '{n} has {a} {i} and gets {b} more. How many {i} does {n} have now?',
    '{n} found {a} {i} on Monday and {b} {i} on Tuesday. How many {i} in all?',
  ],
  '-': ['{n} has {a} {i} and gives away {b}. How many {i} are left?'],
  '*': ['{n} buys {a} bags with {b} {i} in each. How many {i} is that?'],
  '/': ['{n} shares {a} {i} equally among {b} friends. How many {i} does each friend get?'],
};

function wordProblem(rng: Rng, d: Difficulty): Problem | null {
  const ops = d.operators.filter((o): o is '+' | '-' | '*' | '/' => o in WORD_TEMPLATES);
  if (ops.length === 0) return null;
  const op = rng.choice(ops);
  let a = literal(rng, pickDigits(rng, d));
  let b = literal(rng, pickDigits(rng, d), op === '/' ? 2 : 1);
  if (op === '-' && b > a) [a, b] = [b, a];
  if (op === '/') a *= b;
  const text = rng
    .choice(WORD_TEMPLATES[op])
    .replaceAll('{n}', rng.choice(NAMES))
    .replaceAll('{i}', `${rng.choice(ITEMS)}s`)
    .replaceAll('{a}', a.toString())
    .replaceAll('{b}', b.toString());
  const expr = `${a} ${op} ${b}`;
  const answer = op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : a / b;
  return { text, expr, answer, kind: 'word', ops: 1, maxDigits: Math.max(a.toString().length, b.toString().length) };
}

function maxLiteralDigits(e: Expr): number {
  if (e.type === 'num') return e.value.toString().length;
  if (e.type === 'neg') return maxLiteralDigits(e.arg);
  return Math.max(maxLiteralDigits(e.left), maxLiteralDigits(e.right));
}

/**
 * One random problem of the given difficulty, with its exact answer. Deterministic in the rng's
 * state. Expression problems are printed with single spaces around operators (Python syntax).
 */
export function generateProblem(rng: Rng, difficulty: Partial<Difficulty> = {}): Problem {
  const d: Difficulty = { ...DEFAULT_DIFFICULTY, ...difficulty };
  if (d.minDigits < 1 || d.maxDigits < d.minDigits || d.minOps < 1 || d.maxOps < d.minOps) {
    throw new RangeError(`bad difficulty ${JSON.stringify(d)}`);
  }
  const nOps = rng.int(d.minOps, d.maxOps);
  if (nOps === 1 && d.wordProb > 0 && rng.next() < d.wordProb) {
    const w = wordProblem(rng, d);
    if (w) return w;
  }
  const wantParens = nOps >= 2 && rng.next() < d.parenProb;
  let fallback: Problem | null = null;
  for (let attempt = 0; attempt < 200; attempt++) {
    let tree: Expr | null;
    let answer: bigint;
    try {
      tree = genTree(rng, d, nOps);
      if (!tree) continue;
      answer = evalExpr(tree);
    } catch (e) {
      if (e instanceof ArithError) continue;
      throw e;
    }
    const text = formatExpr(tree);
    const p: Problem = { text, expr: text, answer, kind: 'expr', ops: nOps, maxDigits: maxLiteralDigits(tree) };
    if (text.includes('(') === wantParens) return p;
    fallback ??= p;
  }
  if (fallback) return fallback;
  throw new Error(`could not generate a problem for ${JSON.stringify(d)} (operators too constrained?)`);
}
