import { readdirSync, readFileSync } from 'node:fs';
import { chooseIsolation, type IsolationMode } from '../../../plugins/python-sandbox/isolation.js';
import { pythonToolDefaults } from '../../../plugins/python-sandbox/options.js';
import { PythonTool, type PythonToolOptions } from '../../../plugins/python-sandbox/tool.js';

/** Tight limits so hostile programs hit them fast; no sympy warm-up (these programs do not use it). */
export function testOptions(over: Partial<PythonToolOptions> = {}): PythonToolOptions {
  return {
    ...(pythonToolDefaults() as unknown as PythonToolOptions),
    warmup: '',
    workers: 1,
    timeoutSeconds: 2,
    cpuSeconds: 1,
    memoryMb: 512,
    maxProcesses: 32,
    maxOutputBytes: 200_000,
    maxObservationChars: 2000,
    ...over,
  };
}

export function makeTool(over: Partial<PythonToolOptions> = {}, warn?: (m: string) => void): Promise<PythonTool> {
  return PythonTool.create('python', testOptions(over), warn ?? (() => {}));
}

/** Every live descendant of `pid` (host pids, read from /proc). */
export function descendants(pid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') continue;
    const ppid = Number(fields[1]);
    kids.set(ppid, [...(kids.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length)
    for (const k of kids.get(todo.pop() as number) ?? []) {
      out.push(k);
      todo.push(k);
    }
  return out.sort((a, b) => a - b);
}

/** The process tree under each worker (the worker itself and bwrap's helpers), for before/after checks. */
export function trees(tool: PythonTool): string {
  return JSON.stringify(tool.sandbox.pids.map((p) => (p === undefined ? [] : descendants(p))));
}

export interface IsolationVariant {
  label: string;
  userNamespace: 'auto' | 'never';
  isolation: 'auto' | 'none';
  mode: IsolationMode;
  isolated: boolean;
}

/** Every mode this machine can run: the automatic choice, bwrap-root when it differs (as root), and none. */
export function isolationVariants(): IsolationVariant[] {
  const out: IsolationVariant[] = [];
  const auto = chooseIsolation('bwrap', 'auto');
  if (auto.mode !== 'none')
    out.push({
      label: `auto (${auto.mode})`,
      userNamespace: 'auto',
      isolation: 'auto',
      mode: auto.mode,
      isolated: true,
    });
  if (
    auto.mode === 'bwrap-userns' &&
    process.getuid?.() === 0 &&
    chooseIsolation('bwrap', 'never').mode === 'bwrap-root'
  ) {
    out.push({
      label: 'bwrap-root (userNamespace: never)',
      userNamespace: 'never',
      isolation: 'auto',
      mode: 'bwrap-root',
      isolated: true,
    });
  }
  out.push({ label: 'none (rlimits only)', userNamespace: 'auto', isolation: 'none', mode: 'none', isolated: false });
  return out;
}
