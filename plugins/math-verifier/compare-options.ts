import type { Ans } from './structure.js';

/** Options of one comparison, shared by the in-thread fast path and the workers. */
export interface CompareOptions {
  /** Relative tolerance for values that are not both exact (floating point, irrational, symbolic). */
  relTol: number;
  /** Absolute tolerance added to relTol (values that should be 0 but carry rounding noise). */
  absTol: number;
  /**
   * Where a side is a written decimal, both values rounded to this many decimals must agree
   * (Math-Verify's float_rounding, default 6: 1/3 matches 0.333333, not 0.33).
   */
  floatRounding: number;
  /** Variable names matter (f(x) ≠ f(y)); when false, the prediction's variables map to gold's by order. */
  strictVariables: boolean;
  /** A gold set/interval also matches an equivalent predicted inequality (a gold inequality always accepts a set). */
  allowSetRelation: boolean;
  /** Random points at which symbolic expressions are compared. */
  points: number;
}

export const DEFAULT_COMPARE: CompareOptions = {
  relTol: 1e-6,
  absTol: 1e-12,
  floatRounding: 6,
  strictVariables: true,
  allowSetRelation: false,
  points: 8,
};

/** A symbolic fallback for expressions the local grammar cannot read: true, false, or null (undecided). */
export type SymbolicCheck = (gold: string, pred: string, o: CompareOptions) => boolean | null;

/** What the comparison helpers share: the options, the symbolic fallback, and structural equality. */
export interface Ctx {
  o: CompareOptions;
  symbolic?: SymbolicCheck;
  /** Structural equality (compare.ts), for relations whose sides are structures. */
  eq(g: Ans, p: Ans, c: Ctx): boolean;
}
