import { promises as fs } from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';

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
  return text.split('\n').map((l, i) => [l.trim(), i] as const).filter(([l]) => l !== '').map(([l, i]) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not a JSON object: ${(e as Error).message}`, { cause: e });
    }
  });
}

const PROBLEM_FIELDS = ['problem', 'question', 'Problem', 'Question', 'prompt', 'input'];
const ANSWER_FIELDS = ['answer', 'final_answer', 'Answer', 'expected_answer', 'gt', 'target', 'solution'];

/** The last \boxed{...} of a text, braces matched. */
export function lastBoxed(text: string): string | undefined {
  const i = Math.max(text.lastIndexOf('\\boxed{'), text.lastIndexOf('\\fbox{'));
  if (i < 0) return undefined;
  let depth = 0;
  const start = text.indexOf('{', i);
  for (let j = start; j < text.length; j++) {
    if (text[j] === '{') depth++;
    else if (text[j] === '}' && --depth === 0) return text.slice(start + 1, j);
  }
  return undefined;
}

/**
 * The reference answer in the usual shapes: a plain `answer` (MATH-500, AIME), GSM8K's
 * "reasoning #### 72", or a solution with a final \boxed{}.
 */
export function normaliseAnswer(raw: unknown): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  const s = typeof raw === 'string' ? raw : String(raw);
  const gsm = /####\s*(.+?)\s*$/.exec(s);
  if (gsm) return (gsm[1] as string).replace(/,/g, '');
  return lastBoxed(s) ?? s.trim();
}

export function pickField(row: Record<string, unknown>, wanted: string | null, candidates: string[]): string | undefined {
  if (wanted) return wanted in row ? wanted : undefined;
  return candidates.find((c) => row[c] !== undefined && row[c] !== null);
}

export { PROBLEM_FIELDS, ANSWER_FIELDS };
