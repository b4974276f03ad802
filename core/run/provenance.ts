import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The checked-out commit (with `-dirty` when the tree has changes), or 'unknown' outside git. */
export async function gitCommit(cwd = process.cwd()): Promise<string> {
  try {
    const { stdout } = await run('git', ['rev-parse', 'HEAD'], { cwd, timeout: 5000 });
    const { stdout: status } = await run('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd,
      timeout: 5000,
    });
    return `${stdout.trim()}${status.trim() ? '-dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}
