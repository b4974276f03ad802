import { DEFAULT_VERIFIER, type MathVerifierOptions } from './options.js';
import type { Ans } from './structure.js';

/** The verifier's options that one comparison reads (in-thread fast path and workers alike). */
export const COMPARE_KEYS = [
  'relTol',
  'absTol',
  'floatRounding',
  'strictVariables',
  'allowSetRelation',
  'points',
] as const;

/** Options of one comparison: a subset of the verifier's, so typed and defaulted by its schema. */
export type CompareOptions = Pick<MathVerifierOptions, (typeof COMPARE_KEYS)[number]>;

/** Just the comparison options (what is sent to the workers). */
export function compareOptions(o: CompareOptions): CompareOptions {
  return Object.fromEntries(COMPARE_KEYS.map((k) => [k, o[k]])) as CompareOptions;
}

export const DEFAULT_COMPARE: CompareOptions = compareOptions(DEFAULT_VERIFIER);

/** A symbolic fallback for expressions the local grammar cannot read: true, false, or null (undecided). */
export type SymbolicCheck = (gold: string, pred: string, o: CompareOptions) => boolean | null;

/** What the comparison helpers share: the options, the symbolic fallback, and structural equality. */
export interface Ctx {
  o: CompareOptions;
  symbolic?: SymbolicCheck;
  /** Structural equality (compare.ts), for relations whose sides are structures. */
  eq(g: Ans, p: Ans, c: Ctx): boolean;
}
