import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The real CLI (bin/agent0.js over dist/, built by `npm test`'s pretest) in a child process.
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin', 'agent0.js');

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** Starts `agent0 args` in `cwd`, with its bootstrap cache under cwd/cache. */
export function start(args: string[], cwd: string): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd,
    env: { ...process.env, AGENT0_CACHE: path.join(cwd, 'cache') },
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, out, err })));
  return { child, done };
}

/** Runs `agent0 args` in `cwd` to the end. */
export function agent0(args: string[], cwd: string): Promise<CliResult> {
  return start(args, cwd).done;
}
