import type { ChildProcess } from 'node:child_process';

/** SIGKILL to the child's whole process group (it was spawned detached): what a program forked goes too. */
export function killGroup(proc: ChildProcess): void {
  if (!proc.pid) return;
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** Runs `kill`, then waits up to `ms` for the child to exit (a close must not hang on a stuck child). */
export async function killAndWait(proc: ChildProcess, kill: () => void, ms = 2000): Promise<void> {
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  kill();
  await Promise.race([exited, new Promise((r) => setTimeout(r, ms))]);
}
