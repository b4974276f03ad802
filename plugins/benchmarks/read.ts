import { promises as fs } from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { lastBoxed as lastBoxedIn } from '../shared/boxed.js';

/** Rows of a JSONL, JSON (array) or Parquet file, as plain objects. */
export async function readRows(file: string): Promise<Record<string, unknown>[]> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') {
    const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file) });
    return rows as Record<string, unknown>[];
  }
  const text = await fs.readFile(file, 'utf8');
  if (ext === '.json') {
    const v = JSON.parse(text) as unknown;
    if (!Array.isArray(v)) throw new Error(`${file}: expected a JSON array of rows`);
    return v as Record<string, unknown>[];
  }
  return text
    .split('\n')
    .map((l, i) => [l.trim(), i] as const)
    .filter(([l]) => l !== '')
    .map(([l, i]) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch (e) {
        throw new Error(`${file}:${i + 1}: not a JSON object: ${(e as Error).message}`, { cause: e });
      }
    });
}

const PROBLEM_FIELDS = ['problem', 'question', 'Problem', 'Question', 'prompt', 'input'];
const ANSWER_FIELDS = ['answer', 'final_answer', 'Answer', 'expected_answer', 'gt', 'target', 'solution'];

/** The last \boxed{...} or \fbox{...} of a text, braces matched. */
export function lastBoxed(text: string): string | undefined {
  return lastBoxedIn(text, { spaceBeforeBrace: false, escapedBraces: false });
}

/**
 * The reference answer in the usual shapes: a plain `answer` (MATH-500, AIME), GSM8K's
 * "reasoning #### 72", or a solution with a final \boxed{}.
 */
export function referenceAnswer(raw: unknown): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  const s = typeof raw === 'string' ? raw : String(raw);
  const gsm = /####\s*(.+?)\s*$/.exec(s);
  if (gsm) return (gsm[1] as string).replace(/,/g, '');
  return lastBoxed(s) ?? s.trim();
}

export function pickField(
  row: Record<string, unknown>,
  wanted: string | null,
  candidates: string[],
): string | undefined {
  if (wanted) return wanted in row ? wanted : undefined;
  return candidates.find((c) => row[c] !== undefined && row[c] !== null);
}

export { PROBLEM_FIELDS, ANSWER_FIELDS };
