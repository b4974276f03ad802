/**
 * Integer arithmetic expressions in a Python-compatible notation, evaluated exactly with BigInt.
 *
 * Operators (Python precedence, high to low): `**` (right-assoc), unary `-`/`+`,
 * `* / // %` (left-assoc), `+ -` (left-assoc). `/` is *exact* division: it is an error when
 * the quotient is not an integer, so a problem text never has a fractional answer. `//` and `%`
 * floor like Python, so the sandbox's output and `evaluate` agree on negative operands too.
 */

export type BinOp = '+' | '-' | '*' | '/' | '//' | '%' | '**';

export type Expr =
  { type: 'num'; value: bigint } | { type: 'neg'; arg: Expr } | { type: 'bin'; op: BinOp; left: Expr; right: Expr };

export class ArithError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArithError';
  }
}

/** Guards against `9**9**9` from a model: results longer than this many digits are rejected. */
export const MAX_RESULT_DIGITS = 400;

type Tok = { kind: 'num'; value: bigint } | { kind: 'op'; op: string } | { kind: 'lp' } | { kind: 'rp' };

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c >= '0' && c <= '9') {
      let j = i;
      while (j < src.length && (src[j] as string) >= '0' && (src[j] as string) <= '9') j++;
      out.push({ kind: 'num', value: BigInt(src.slice(i, j)) });
      i = j;
      continue;
    }
    if (c === '(') {
      out.push({ kind: 'lp' });
      i++;
      continue;
    }
    if (c === ')') {
      out.push({ kind: 'rp' });
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '**' || two === '//') {
      out.push({ kind: 'op', op: two });
      i += 2;
      continue;
    }
    if ('+-*/%'.includes(c)) {
      out.push({ kind: 'op', op: c });
      i++;
      continue;
    }
    throw new ArithError(`unexpected character '${c}' at ${i}`);
  }
  return out;
}

/** Parses an expression; throws ArithError on anything outside the grammar. */
export function parseExpr(src: string): Expr {
  const toks = lex(src);
  let pos = 0;
  const peekOp = (...ops: string[]): string | undefined => {
    const t = toks[pos];
    return t?.kind === 'op' && ops.includes(t.op) ? t.op : undefined;
  };
  const expr = (): Expr => {
    let left = term();
    for (let op = peekOp('+', '-'); op; op = peekOp('+', '-')) {
      pos++;
      left = { type: 'bin', op: op as BinOp, left, right: term() };
    }
    return left;
  };
  const term = (): Expr => {
    let left = unary();
    for (let op = peekOp('*', '/', '//', '%'); op; op = peekOp('*', '/', '//', '%')) {
      pos++;
      left = { type: 'bin', op: op as BinOp, left, right: unary() };
    }
    return left;
  };
  const unary = (): Expr => {
    const op = peekOp('-', '+');
    if (op) {
      pos++;
      const arg = unary();
      return op === '-' ? { type: 'neg', arg } : arg;
    }
    return power();
  };
  const power = (): Expr => {
    const base = atom();
    if (peekOp('**')) {
      pos++;
      return { type: 'bin', op: '**', left: base, right: unary() };
    }
    return base;
  };
  const atom = (): Expr => {
    const t = toks[pos];
    if (!t) throw new ArithError('unexpected end of expression');
    if (t.kind === 'num') {
      pos++;
      return { type: 'num', value: t.value };
    }
    if (t.kind === 'lp') {
      pos++;
      const e = expr();
      if (toks[pos]?.kind !== 'rp') throw new ArithError('missing )');
      pos++;
      return e;
    }
    throw new ArithError(`unexpected ${t.kind === 'op' ? `'${t.op}'` : ')'}`);
  };
  if (toks.length === 0) throw new ArithError('empty expression');
  const e = expr();
  if (pos !== toks.length) throw new ArithError(`trailing tokens after position ${pos}`);
  return e;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function digitsOf(v: bigint): number {
  return (v < 0n ? -v : v).toString().length;
}

/** Exact value of a parsed expression; ArithError on ÷0, inexact `/`, negative or huge powers. */
export function evalExpr(e: Expr): bigint {
  switch (e.type) {
    case 'num':
      return e.value;
    case 'neg':
      return -evalExpr(e.arg);
    case 'bin': {
      const a = evalExpr(e.left);
      const b = evalExpr(e.right);
      switch (e.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
          if (b === 0n) throw new ArithError('division by zero');
          if (a % b !== 0n) throw new ArithError(`${a} / ${b} is not an integer`);
          return a / b;
        case '//':
          if (b === 0n) throw new ArithError('division by zero');
          return floorDiv(a, b);
        case '%':
          if (b === 0n) throw new ArithError('modulo by zero');
          return a - b * floorDiv(a, b);
        case '**': {
          if (b < 0n) throw new ArithError('negative exponent');
          // |a| >= 2 has at least b·log10(|a|) >= b·0.3 digits: bound before BigInt tries (9 ** 9 ** 9).
          const ad = a === 0n || a === 1n || a === -1n ? 0 : digitsOf(a);
          const log10a = ad > 15 ? ad - 1 : Math.log10(Math.abs(Number(a)));
          if (ad > 0 && Number(b) * log10a > MAX_RESULT_DIGITS + 1) throw new ArithError('power too large');
          const r = a ** b;
          if (digitsOf(r) > MAX_RESULT_DIGITS) throw new ArithError('power too large');
          return r;
        }
      }
    }
  }
}

/** Exact integer value of an expression text (e.g. `evaluate('2 ** 70 - 1')`). Throws ArithError. */
export function evaluate(src: string): bigint {
  return evalExpr(parseExpr(src));
}

/** Like `evaluate`, but null instead of throwing. */
export function tryEvaluate(src: string): bigint | null {
  try {
    return evaluate(src);
  } catch (e) {
    if (e instanceof ArithError) return null;
    throw e;
  }
}

const PREC: Record<BinOp, number> = { '+': 1, '-': 1, '*': 2, '/': 2, '//': 2, '%': 2, '**': 4 };
const NEG_PREC = 3;

function precOf(e: Expr): number {
  return e.type === 'num' ? 5 : e.type === 'neg' ? NEG_PREC : PREC[e.op];
}

/**
 * Prints with the fewest parentheses that keep the tree's meaning under Python precedence
 * (an equal-precedence right operand is parenthesised: `a - (b - c)`).
 */
export function formatExpr(e: Expr, spaces = true): string {
  const wrap = (s: string, yes: boolean): string => (yes ? `(${s})` : s);
  switch (e.type) {
    case 'num':
      return e.value.toString();
    case 'neg':
      return `-${wrap(formatExpr(e.arg, spaces), precOf(e.arg) < NEG_PREC || e.arg.type === 'neg')}`;
    case 'bin': {
      const p = PREC[e.op];
      const right = e.op === '**' ? precOf(e.right) < NEG_PREC : precOf(e.right) <= p;
      const left = e.op === '**' ? precOf(e.left) <= p : precOf(e.left) < p;
      const sep = spaces ? ' ' : '';
      return `${wrap(formatExpr(e.left, spaces), left)}${sep}${e.op}${sep}${wrap(formatExpr(e.right, spaces), right)}`;
    }
  }
}

/** Binary operations in the tree, by operator. */
export function countOps(e: Expr, into: Partial<Record<BinOp, number>> = {}): Partial<Record<BinOp, number>> {
  if (e.type === 'bin') {
    into[e.op] = (into[e.op] ?? 0) + 1;
    countOps(e.left, into);
    countOps(e.right, into);
  } else if (e.type === 'neg') {
    countOps(e.arg, into);
  }
  return into;
}

/** Integer literals in the tree, left to right. */
export function literals(e: Expr, into: bigint[] = []): bigint[] {
  if (e.type === 'num') into.push(e.value);
  else if (e.type === 'neg') literals(e.arg, into);
  else {
    literals(e.left, into);
    literals(e.right, into);
  }
  return into;
}
