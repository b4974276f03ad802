import { div, mul, type Rational, rat, ratFromDecimal } from './rational.js';

/**
 * A small LaTeX expression grammar covering what final answers contain. Anything outside it throws
 * ParseError and the comparison goes to the symbolic worker (compute-engine) instead.
 */
export type Expr =
  | { t: 'num'; v: Rational; dec: number } // dec: digits after the point as written, 0 for integers
  | { t: 'sym'; name: string }
  | { t: 'const'; name: 'pi' | 'e' | 'inf' }
  | { t: 'add'; a: Expr[] }
  | { t: 'neg'; a: Expr }
  | { t: 'mul'; a: Expr[] }
  | { t: 'div'; a: Expr; b: Expr }
  | { t: 'pow'; a: Expr; b: Expr }
  | { t: 'root'; a: Expr; k: Expr }
  | { t: 'fact'; a: Expr }
  | { t: 'fn'; name: string; args: Expr[] }
  | { t: 'sum'; v: string; lo: Expr; hi: Expr; body: Expr; prod: boolean };

export class ParseError extends Error {}

type Tok = { k: 'num'; s: string } | { k: 'cmd'; s: string } | { k: 'id'; s: string } | { k: 'op'; s: string };

const GREEK = new Set([
  'alpha',
  'beta',
  'gamma',
  'delta',
  'epsilon',
  'varepsilon',
  'zeta',
  'eta',
  'theta',
  'vartheta',
  'iota',
  'kappa',
  'lambda',
  'mu',
  'nu',
  'xi',
  'rho',
  'sigma',
  'tau',
  'upsilon',
  'phi',
  'varphi',
  'chi',
  'psi',
  'omega',
  'Gamma',
  'Delta',
  'Theta',
  'Lambda',
  'Xi',
  'Sigma',
  'Phi',
  'Psi',
  'Omega',
]);
const FUNCS = new Set([
  'sin',
  'cos',
  'tan',
  'sec',
  'csc',
  'cot',
  'arcsin',
  'arccos',
  'arctan',
  'sinh',
  'cosh',
  'tanh',
  'ln',
  'log',
  'exp',
  'lg',
]);
/** Single letters read as function application before `(` (f(x)); other letters multiply (a(b+1)). */
const CALL_LETTERS = new Set(['f', 'g', 'h', 'F', 'G', 'H', 'P', 'Q', 'W']);
const UNICODE: Record<string, string> = {
  '×': '*',
  '·': '*',
  '÷': '/',
  '−': '-',
  '∞': '\\infty',
  π: '\\pi',
  '√': '\\sqrt',
};

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (UNICODE[c]) {
      const u = UNICODE[c]!;
      out.push(u.startsWith('\\') ? { k: 'cmd', s: u.slice(1) } : { k: 'op', s: u });
      i++;
      continue;
    }
    // `1.5e-05` as printed by Python is one number (a digit must follow the e)
    const num = /^(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d{1,4}(?![\d.]))?/.exec(src.slice(i));
    if (num) {
      out.push({ k: 'num', s: num[0] });
      i += num[0].length;
      continue;
    }
    if (c === '\\') {
      const m = /^\\([a-zA-Z]+)/.exec(src.slice(i));
      if (m) {
        out.push({ k: 'cmd', s: m[1]! });
        i += m[0].length;
        continue;
      }
      const nx = src[i + 1];
      if (nx === '{' || nx === '}') {
        out.push({ k: 'op', s: nx === '{' ? '(' : ')' });
        i += 2;
        continue;
      }
      if (nx === '|') {
        out.push({ k: 'op', s: '|' });
        i += 2;
        continue;
      }
      throw new ParseError(`bad escape at ${i}`);
    }
    if (/[a-zA-Z]/.test(c)) {
      out.push({ k: 'id', s: c });
      i++;
      continue;
    }
    if ("+-*/^_()[]{}|!'=".includes(c)) {
      out.push({ k: 'op', s: c });
      i++;
      continue;
    }
    throw new ParseError(`unexpected '${c}'`);
  }
  return out;
}

class Parser {
  private p = 0;
  private absDepth = 0;
  constructor(private readonly toks: Tok[]) {}

  parseAll(): Expr {
    if (!this.toks.length) throw new ParseError('empty');
    const e = this.expr();
    if (this.p < this.toks.length) throw new ParseError(`trailing '${this.toks[this.p]!.s}'`);
    return e;
  }

  private peek(): Tok | undefined {
    return this.toks[this.p];
  }
  private isOp(s: string): boolean {
    const t = this.peek();
    return !!t && t.k === 'op' && t.s === s;
  }
  private isCmd(...s: string[]): boolean {
    const t = this.peek();
    return !!t && t.k === 'cmd' && s.includes(t.s);
  }
  private expect(s: string): void {
    if (!this.isOp(s)) throw new ParseError(`expected '${s}'`);
    this.p++;
  }

  private expr(): Expr {
    const terms: Expr[] = [];
    let sign = 1;
    if (this.isOp('+')) this.p++;
    else if (this.isOp('-')) {
      this.p++;
      sign = -1;
    }
    for (;;) {
      const t = this.term();
      terms.push(sign < 0 ? { t: 'neg', a: t } : t);
      if (this.isOp('+')) {
        this.p++;
        sign = 1;
      } else if (this.isOp('-')) {
        this.p++;
        sign = -1;
      } else break;
    }
    return terms.length === 1 ? terms[0]! : { t: 'add', a: terms };
  }

  private term(): Expr {
    let acc = this.unary();
    const factors: Expr[] = [];
    for (;;) {
      if (this.isOp('*') || this.isCmd('cdot', 'times', 'ast')) {
        this.p++;
        factors.push(acc);
        acc = this.unary();
        continue;
      }
      if (this.isOp('/') || this.isCmd('div')) {
        this.p++;
        acc = { t: 'div', a: acc, b: this.unary() };
        continue;
      }
      if (this.startsAtom()) {
        factors.push(acc);
        acc = this.power();
        continue;
      }
      break;
    }
    factors.push(acc);
    return factors.length === 1 ? factors[0]! : { t: 'mul', a: factors };
  }

  private unary(): Expr {
    if (this.isOp('-')) {
      this.p++;
      return { t: 'neg', a: this.unary() };
    }
    if (this.isOp('+')) {
      this.p++;
      return this.unary();
    }
    return this.power();
  }

  private startsAtom(): boolean {
    const t = this.peek();
    if (!t) return false;
    if (t.k === 'num' || t.k === 'id') return true;
    if (t.k === 'cmd') return !['cdot', 'times', 'div', 'ast'].includes(t.s);
    if (t.s === '|') return this.absDepth === 0;
    return t.s === '(' || t.s === '{' || t.s === '[';
  }

  private power(): Expr {
    let base = this.postfix(this.atom());
    if (this.isOp('^')) {
      this.p++;
      const ex = this.isOp('-') ? (this.p++, { t: 'neg', a: this.group() } as Expr) : this.group();
      base = { t: 'pow', a: base, b: ex };
    }
    return base;
  }

  private postfix(e: Expr): Expr {
    for (;;) {
      if (this.isOp('!')) {
        this.p++;
        e = { t: 'fact', a: e };
        continue;
      }
      break;
    }
    return e;
  }

  /** A `{...}` group or, LaTeX-style, one token (`\frac12`, `x^2`). */
  private group(single = true): Expr {
    if (this.isOp('{')) {
      this.p++;
      const e = this.expr();
      this.expect('}');
      return e;
    }
    if (!single) throw new ParseError('expected {');
    const t = this.peek();
    if (t?.k === 'num') {
      this.p++;
      // \frac12 and x^23 both take one digit at a time in LaTeX
      if (t.s.length > 1 && /^\d+$/.test(t.s)) {
        this.toks.splice(this.p, 0, { k: 'num', s: t.s.slice(1) });
        return num(t.s[0]!);
      }
      return num(t.s);
    }
    return this.atom(true);
  }

  private subscript(): string {
    this.p++; // '_'
    const start = this.p;
    if (this.isOp('{')) {
      let depth = 0;
      do {
        const t = this.toks[this.p++];
        if (!t) throw new ParseError('unclosed subscript');
        if (t.k === 'op' && t.s === '{') depth++;
        if (t.k === 'op' && t.s === '}') depth--;
      } while (depth > 0);
      return this.toks
        .slice(start + 1, this.p - 1)
        .map((t) => t.s)
        .join('');
    }
    const t = this.toks[this.p++];
    if (!t) throw new ParseError('empty subscript');
    return t.s;
  }

  private atom(single = false): Expr {
    const t = this.peek();
    if (!t) throw new ParseError('unexpected end');
    if (t.k === 'num') {
      this.p++;
      const n = num(t.s);
      if (this.isOp('_') && /^\d+$/.test(t.s)) return this.baseNumber(t.s);
      return n;
    }
    if (t.k === 'id') {
      this.p++;
      let name = t.s;
      while (this.isOp("'")) {
        this.p++;
        name += "'";
      }
      if (this.isOp('_')) {
        const sub = this.subscript();
        if (/[a-zA-Z]/.test(sub) && /[-+]/.test(sub)) {
          return { t: 'fn', name: `${name}_`, args: [parseExpr(sub)] };
        }
        name = `${name}_${sub}`;
      }
      while (this.isOp("'")) {
        this.p++;
        name += "'";
      }
      if (name === 'e') return { t: 'const', name: 'e' };
      if (!single && CALL_LETTERS.has(name[0]!) && name.length <= 3 && this.isOp('(')) {
        return { t: 'fn', name: `user:${name}`, args: this.callArgs() };
      }
      return { t: 'sym', name };
    }
    if (t.k === 'op') {
      if (t.s === '(' || t.s === '[' || t.s === '{') {
        this.p++;
        const saved = this.absDepth;
        this.absDepth = 0;
        const e = this.expr();
        this.absDepth = saved;
        this.expect(t.s === '(' ? ')' : t.s === '[' ? ']' : '}');
        return e;
      }
      if (t.s === '|') {
        this.p++;
        this.absDepth++;
        const e = this.expr();
        this.absDepth--;
        this.expect('|');
        return { t: 'fn', name: 'abs', args: [e] };
      }
      throw new ParseError(`unexpected '${t.s}'`);
    }
    return this.command(t.s);
  }

  private baseNumber(digits: string): Expr {
    const sub = this.subscript();
    const base = Number(sub);
    if (!Number.isInteger(base) || base < 2 || base > 10 || [...digits].some((d) => Number(d) >= base)) {
      throw new ParseError(`bad base ${sub}`);
    }
    let v = 0n;
    for (const d of digits) v = v * BigInt(base) + BigInt(d);
    return { t: 'num', v: rat(v), dec: 0 };
  }

  private callArgs(): Expr[] {
    this.expect('(');
    const e = this.expr();
    this.expect(')');
    return [e];
  }

  private command(name: string): Expr {
    this.p++;
    if (name === 'frac') {
      const a = this.group();
      const b = this.group();
      return { t: 'div', a, b };
    }
    if (name === 'sqrt') {
      let k: Expr = num('2');
      if (this.isOp('[')) {
        this.p++;
        k = this.expr();
        this.expect(']');
      }
      return { t: 'root', a: this.group(), k };
    }
    if (name === 'binom' || name === 'dbinom' || name === 'tbinom') {
      const n = this.group();
      return { t: 'fn', name: 'binom', args: [n, this.group()] };
    }
    if (name === 'pi') return { t: 'const', name: 'pi' };
    if (name === 'infty' || name === 'infin') return { t: 'const', name: 'inf' };
    if (GREEK.has(name)) {
      let sym = name;
      if (this.isOp('_')) sym += `_${this.subscript()}`;
      return { t: 'sym', name: sym };
    }
    if (name === 'sum' || name === 'prod') return this.bigOp(name === 'prod');
    if (FUNCS.has(name)) {
      let exponent: Expr | null = null;
      let logBase: Expr | null = null;
      if (name === 'log' && this.isOp('_')) {
        this.p++;
        logBase = this.group();
      }
      if (this.isOp('^')) {
        this.p++;
        exponent = this.isOp('-') ? (this.p++, { t: 'neg', a: this.group() } as Expr) : this.group();
      }
      const arg = this.isOp('(') ? this.callArgs()[0]! : this.funcArg();
      let fname = name;
      if (exponent && exponent.t === 'neg' && isOne(exponent.a) && ['sin', 'cos', 'tan'].includes(name)) {
        fname = `arc${name}`;
        exponent = null;
      }
      let e: Expr = { t: 'fn', name: fname, args: logBase ? [arg, logBase] : [arg] };
      if (exponent) e = { t: 'pow', a: e, b: exponent };
      return e;
    }
    throw new ParseError(`unsupported \\${name}`);
  }

  /** `\\sin 2x` is sin(2x): an argument without parentheses runs over numbers, letters and constants. */
  private funcArg(): Expr {
    const factors = [this.power()];
    for (;;) {
      const t = this.peek();
      if (!t || !(t.k === 'num' || t.k === 'id' || (t.k === 'cmd' && (GREEK.has(t.s) || t.s === 'pi')))) break;
      factors.push(this.power());
    }
    return factors.length === 1 ? factors[0]! : { t: 'mul', a: factors };
  }

  private bigOp(prod: boolean): Expr {
    let lo: Expr | null = null;
    let hi: Expr | null = null;
    let v = '';
    for (let n = 0; n < 2; n++) {
      if (this.isOp('_')) {
        this.p++;
        this.expect('{');
        const id = this.peek();
        if (id?.k !== 'id') throw new ParseError('sum index');
        this.p++;
        v = id.s;
        this.expect('=');
        lo = this.expr();
        this.expect('}');
      } else if (this.isOp('^')) {
        this.p++;
        hi = this.group();
      }
    }
    if (!lo || !hi) throw new ParseError('sum bounds');
    return { t: 'sum', v, lo, hi, body: this.term(), prod };
  }
}

function isOne(e: Expr): boolean {
  return e.t === 'num' && e.v.n === 1n && e.v.d === 1n;
}

function num(s: string): Expr {
  const [mant, expPart] = s.split(/[eE]/) as [string, string | undefined];
  const m = ratFromDecimal(mant);
  if (!m) throw new ParseError(`bad number ${s}`);
  const dot = mant.indexOf('.');
  const frac = dot < 0 ? 0 : mant.length - dot - 1;
  const exp = expPart === undefined ? 0 : Number(expPart);
  const scale = rat(10n ** BigInt(Math.abs(exp)));
  const v = exp >= 0 ? mul(m, scale) : div(m, scale)!;
  return { t: 'num', v, dec: Math.max(0, frac - exp) };
}

/** Parses one expression (no commas, no relations); throws ParseError outside the grammar. */
export function parseExpr(src: string): Expr {
  return new Parser(tokenize(src)).parseAll();
}
