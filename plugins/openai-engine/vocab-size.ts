import { promises as fs } from 'node:fs';
import path from 'node:path';

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** The model's vocab_size from an HF folder's config.json (0 when absent): ids a server may sample. */
export async function modelVocabSize(dir: string): Promise<number> {
  const v = (await readJson(path.join(dir, 'config.json')))?.vocab_size;
  return Number.isInteger(v) ? (v as number) : 0;
}
