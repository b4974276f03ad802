import { promises as fs } from 'node:fs';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';

export {
  COMPLETE_MARKER,
  fsyncTree,
  pruneStepDirs,
  recoverDir,
  recoverTree,
  replaceDirAtomic,
  stepDir,
} from './dirs.js';

/** Write a whole file or nothing: temp file, fsync, rename (write-file-atomic). */
export async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(
    file,
    typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
  );
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** A text file's contents, or undefined when it does not exist. */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Parses a JSON file (undefined when it does not exist); a parse error names the file. */
export async function readJson<T>(file: string): Promise<T | undefined> {
  const text = await readTextIfExists(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${file}: invalid JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** Length of `h`'s file up to and including its last newline (the part made of whole lines). */
async function wholeLinesLength(h: fs.FileHandle, size: number): Promise<number> {
  const buf = Buffer.alloc(64 * 1024);
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - buf.length);
    const { bytesRead } = await h.read(buf, 0, end - start, start);
    const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl >= 0) return start + nl + 1;
    end = start;
  }
  return 0;
}

// appends to one file run one after another, so a repair never races a write
const appendQueues = new Map<string, Promise<unknown>>();

/**
 * Appends whole lines. A torn tail (a crash or a full disk mid-write) is cut off first, and a
 * write that fails is rolled back to the old length, so a torn line never ends up mid-file
 * where readers could not tell it from corruption.
 */
export async function appendLines(file: string, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  const key = path.resolve(file);
  const run = (appendQueues.get(key) ?? Promise.resolve())
    .catch(() => undefined)
    .then(async () => {
      await fs.mkdir(path.dirname(file), { recursive: true });
      const h = await fs.open(file, 'a+');
      try {
        let size = (await h.stat()).size;
        if (size > 0) {
          const last = Buffer.alloc(1);
          await h.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) {
            size = await wholeLinesLength(h, size);
            await h.truncate(size);
          }
        }
        try {
          await h.appendFile(lines.map((l) => `${l}\n`).join(''));
        } catch (e) {
          await h.truncate(size).catch(() => undefined);
          throw e;
        }
      } finally {
        await h.close();
      }
    });
  appendQueues.set(key, run);
  try {
    await run;
  } finally {
    if (appendQueues.get(key) === run) appendQueues.delete(key);
  }
}

/**
 * Reads a JSONL file ([] when it does not exist). A torn last line (no newline, or not JSON: a
 * crash or a full disk mid-append) is skipped; a bad line elsewhere is an error naming file and line.
 */
export async function readJsonl<T>(file: string): Promise<T[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const lines = text.split('\n');
  let lastLine = lines.length - 1;
  while (lastLine >= 0 && (lines[lastLine] as string).trim() === '') lastLine--;
  const out: T[] = [];
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    if (i === lines.length - 1) continue; // no newline after it: torn
    try {
      out.push(JSON.parse(line) as T);
    } catch (e) {
      if (i === lastLine) continue;
      throw new Error(`${file}:${i + 1}: invalid JSON line: ${(e as Error).message}`, { cause: e });
    }
  }
  return out;
}
