import { countOps, literals, parseExpr, tryEvaluate, ArithError } from './expr.js';

/** How hard a problem text looks (for reporting the curriculum's questions over iterations). */
export interface TextDifficulty {
  /** The text parsed as an expression (otherwise the numbers were read out of words). */
  parsed: boolean;
  /** Numbers in the text. */
  numbers: number;
  /** Largest and mean digit count of those numbers (0 when there are none). */
  maxDigits: number;
  meanDigits: number;
  /** Binary operations: counted in the parse, else estimated as numbers − 1 (a word problem). */
  ops: number;
  /** Parenthesis pairs. */
  parens: number;
  /** Operations by operator (parsed texts only). */
  byOp: Record<string, number>;
  /** Digits of the exact answer, when the text evaluates (else 0). */
  answerDigits: number;
  /** A single scalar: sum over numbers of their digits, plus 1 per operation (1 + 1 → 3). */
  score: number;
}

/**
 * Measures a problem text. Accepts a bare expression (`12 * (3 + 4)`) or words with numbers in them
 * (`Ann has 12 apples and gets 7 more.`), and never throws.
 */
export function measureDifficulty(text: string): TextDifficulty {
  const t = text.trim();
  let nums: bigint[];
  let ops: number;
  let byOp: Record<string, number> = {};
  let parsed = false;
  try {
    const e = parseExpr(t);
    nums = literals(e);
    byOp = countOps(e) as Record<string, number>;
    ops = Object.values(byOp).reduce((a, b) => a + b, 0);
    parsed = true;
  } catch (err) {
    if (!(err instanceof ArithError)) throw err;
    nums = (t.match(/\d+/g) ?? []).map((s) => BigInt(s));
    ops = Math.max(0, nums.length - 1);
  }
  const digits = nums.map((n) => n.toString().length);
  const total = digits.reduce((a, b) => a + b, 0);
  const value = parsed ? tryEvaluate(t) : null;
  return {
    parsed,
    numbers: nums.length,
    maxDigits: digits.length ? Math.max(...digits) : 0,
    meanDigits: digits.length ? total / digits.length : 0,
    ops,
    parens: (t.match(/\(/g) ?? []).length,
    byOp,
    answerDigits: value === null ? 0 : value.toString().replace('-', '').length,
    score: total + ops,
  };
}
