import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Written last into a folder that replaceDirAtomic commits: a `.tmp-*` or `.old-*` copy is only
 * restored when it holds this marker, i.e. when everything before it was written and flushed.
 */
export const COMPLETE_MARKER = '.agent0-complete.json';

/** fsync a file or folder; folders cannot be opened for fsync on every platform (Windows). */
async function fsyncPath(p: string): Promise<void> {
  let h: fs.FileHandle | undefined;
  try {
    h = await fs.open(p, 'r');
    await h.sync();
  } catch (e) {
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    await h?.close();
  }
}

/**
 * Flushes every file under `dir`, then the folders: a policy's save() may write its files any way
 * (another process, plain writeFile), and a rename is only durable over data already on disk.
 */
export async function fsyncTree(dir: string): Promise<void> {
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await fsyncTree(p);
    else if (e.isFile()) await fsyncPath(p);
  }
  await fsyncPath(dir);
}

/** Whether a process of this host is running (EPERM: it is, under another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

async function completedAt(dir: string): Promise<number | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(path.join(dir, COMPLETE_MARKER), 'utf8')) as { completedAt?: unknown };
    return typeof m.completedAt === 'number' ? m.completedAt : undefined;
  } catch {
    return undefined;
  }
}

const COPY = /^(.*)\.(tmp|old)-(\d+)-(\d+)$/;

/**
 * Finishes or undoes a swap of `dir` that a kill interrupted. While `dir` is missing, the newest
 * complete `.tmp-*`/`.old-*` copy becomes `dir` (a `.tmp` is newer than the `.old` of the same swap);
 * then every leftover copy is removed, except those of a live process (another run sharing a cache
 * may be mid-swap). Returns whether `dir` exists afterwards.
 */
export async function recoverDir(dir: string): Promise<boolean> {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  let names: string[];
  try {
    names = await fs.readdir(parent);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  const copies = names.flatMap((n) => {
    const m = COPY.exec(n);
    if (!m || m[1] !== base) return [];
    const pid = Number(m[3]);
    return pid !== process.pid && pidAlive(pid) ? [] : [{ p: path.join(parent, n), tmp: m[2] === 'tmp' }];
  });
  let present = await exists(dir);
  if (!present) {
    const complete = [];
    for (const c of copies) {
      const at = await completedAt(c.p);
      if (at !== undefined) complete.push({ ...c, at });
    }
    complete.sort((a, b) => b.at - a.at || Number(b.tmp) - Number(a.tmp));
    const best = complete[0];
    if (best) {
      await fs.rename(best.p, dir);
      await fsyncPath(parent);
      present = true;
    }
  }
  for (const c of copies) await fs.rm(c.p, { recursive: true, force: true });
  return present;
}

/** recoverDir for every interrupted swap under `root` (`depth` folder levels down): a run's start. */
export async function recoverTree(root: string, depth = 3): Promise<void> {
  let entries;
  try {
    entries = await fs.readdir(root, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const targets = new Set<string>();
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const m = COPY.exec(e.name);
    if (m) targets.add(m[1] as string);
    else if (depth > 1) await recoverTree(path.join(root, e.name), depth - 1);
  }
  for (const t of targets) await recoverDir(path.join(root, t));
}

let lastStamp = 0;

/**
 * Replaces a folder as a unit: `fill` writes `<dir>.tmp-<pid>-<n>`, which is flushed, marked
 * complete and swapped in with two renames. A kill at any point leaves either the old or the new
 * folder, or a complete copy that recoverDir (called here first, and by readers) restores.
 */
export async function replaceDirAtomic(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const parent = path.dirname(dir);
  await fs.mkdir(parent, { recursive: true });
  await recoverDir(dir);
  // strictly increasing, so copies of one process sort by age even within a millisecond
  lastStamp = Math.max(Date.now(), lastStamp + 1);
  const tmp = `${dir}.tmp-${process.pid}-${lastStamp}`;
  await fs.mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    await fsyncTree(tmp);
    const marker = path.join(tmp, COMPLETE_MARKER);
    await fs.writeFile(marker, `${JSON.stringify({ completedAt: lastStamp })}\n`);
    await fsyncPath(marker);
    await fsyncPath(tmp);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = `${dir}.old-${process.pid}-${lastStamp}`;
  let hadOld = false;
  try {
    await fs.rename(dir, old);
    hadOld = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await fs.rename(tmp, dir);
  await fsyncPath(parent);
  if (hadOld) await fs.rm(old, { recursive: true, force: true });
}

/** Step checkpoints are `<base>-<step>` folders: the stage's saved state names the one to resume from. */
export function stepDir(base: string, step: number): string {
  return `${base}-${step}`;
}

/**
 * Removes step checkpoints of `base` other than step `keep` (and interrupted copies of them, and a
 * legacy `<base>` folder): those a crash left after their save but before the state named them.
 */
export async function pruneStepDirs(base: string, keep?: number): Promise<void> {
  const parent = path.dirname(base);
  const name = path.basename(base);
  const keepName = keep === undefined ? undefined : path.basename(stepDir(base, keep));
  let names: string[];
  try {
    names = await fs.readdir(parent);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  for (const n of names) {
    if (n === keepName) continue;
    const m = COPY.exec(n);
    const target = m ? (m[1] as string) : n;
    if (target === keepName && m) continue; // recoverDir's business
    if (target === name || new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d+$`).test(target)) {
      await fs.rm(path.join(parent, n), { recursive: true, force: true });
    }
  }
}
