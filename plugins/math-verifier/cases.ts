import { readFile } from 'node:fs/promises';
import type { MathVerifierOptions } from './verifier.js';

/** One line of a verification test file (the shape of math-verify-cases.jsonl). */
export interface VerifyCase {
  gold: string;
  pred: string;
  expected: boolean;
  category: string;
  /**
   * The configuration the case's own suite passes, where it depends on it (Math-Verify's names; `precision` is its
   * float_rounding).
   */
  options?: { allow_set_relation_comp?: boolean; strict?: boolean; precision?: number };
}

export async function readCases(file: string): Promise<VerifyCase[]> {
  const text = await readFile(file, 'utf8');
  return text.split('\n').flatMap((line, i) => {
    if (!line.trim()) return [];
    const c = JSON.parse(line) as VerifyCase;
    if (typeof c.gold !== 'string' || typeof c.pred !== 'string' || typeof c.expected !== 'boolean') {
      throw new Error(`${file}:${i + 1}: expected string gold/pred and boolean expected`);
    }
    return [{ ...c, category: c.category ?? 'uncategorised' }];
  });
}

/** Verifier options equivalent to a case's Math-Verify switches. */
export function caseOptions(c: VerifyCase): Partial<MathVerifierOptions> {
  const o: Partial<MathVerifierOptions> = {};
  if (c.options?.allow_set_relation_comp !== undefined) o.allowSetRelation = c.options.allow_set_relation_comp;
  if (c.options?.strict !== undefined) o.strictVariables = c.options.strict;
  if (c.options?.precision !== undefined) o.floatRounding = c.options.precision;
  return o;
}

/** Key of an option set, to build one verifier per distinct set. */
export const optionsKey = (o: Partial<MathVerifierOptions>): string => JSON.stringify(Object.entries(o).sort());
