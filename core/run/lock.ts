import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pidAlive } from '../util/dirs.js';
import { readTextIfExists } from '../util/atomic.js';
import { RUN_FILES } from './layout.js';

export const LOCK_FILE = RUN_FILES.lock;

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
}

/** Thrown when another live process holds a run folder. */
export class RunLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockInfo,
  ) {
    super(
      `${dir} is in use by process ${holder.pid} on ${holder.host} (since ${holder.startedAt}; lock file ${path.join(dir, LOCK_FILE)}); ` +
        'wait for that run to end or stop it; if it is gone, delete the lock file',
    );
    this.name = 'RunLockedError';
  }
}

/**
 * Lock files this process holds: a lock naming our pid but not among them was left by an earlier process with that pid.
 */
const heldHere = new Set<string>();

async function readLock(file: string): Promise<{ text: string; info: LockInfo | undefined } | undefined> {
  const text = await readTextIfExists(file);
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    return {
      text,
      info:
        typeof v.pid === 'number'
          ? { pid: v.pid, host: String(v.host ?? ''), startedAt: String(v.startedAt ?? '') }
          : undefined,
    };
  } catch {
    return { text, info: undefined }; // torn by a crash while it was written: nobody holds it
  }
}

/**
 * Takes the run folder's lock: `run.lock`, created with O_EXCL, holding this pid. A lock whose
 * process is dead (same host) is stale and taken over; a live holder is refused with its pid.
 * Returns the release function.
 */
export async function lockRunDir(dir: string): Promise<() => Promise<void>> {
  await fs.mkdir(dir, { recursive: true });
  const file = path.resolve(dir, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
  const text = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      const h = await fs.open(file, 'wx');
      try {
        await h.writeFile(text);
        await h.sync();
      } finally {
        await h.close();
      }
      heldHere.add(file);
      return async () => {
        heldHere.delete(file);
        // only our own lock: a later holder (after a takeover) keeps theirs
        if ((await readLock(file))?.text === text) await fs.rm(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = await readLock(file);
    if (!held) continue;
    const { info } = held;
    // unreadable: being written by a starter right now, or torn by a crash long ago
    if (
      !info &&
      Date.now() -
        (await fs.stat(file).then(
          (s) => s.mtimeMs,
          () => 0,
        )) <
        10_000
    ) {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    // a process on another host cannot be checked from here: treat it as alive. Our own pid is alive
    // but holds nothing unless this process took the lock: a restarted container reuses its pids.
    const alive = info && (info.pid === process.pid ? heldHere.has(file) : pidAlive(info.pid));
    if (info && (info.host !== mine.host || alive)) throw new RunLockedError(dir, info);
    // stale: remove it only if it is still the lock judged stale (another starter may have replaced it)
    if ((await readLock(file))?.text === held.text) await fs.rm(file, { force: true });
  }
  throw new Error(`could not take the lock ${file}: other processes keep replacing it`);
}
