import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { SANDBOX_UID } from './isolation.js';

/** The files of the pyodide npm package the wasm worker boots from (nothing is downloaded). */
export const PYODIDE_FILES = {
  loader: 'pyodide.js',
  asm: 'pyodide.asm.js',
  wasm: 'pyodide.asm.wasm',
  stdlib: 'python_stdlib.zip',
  lock: 'pyodide-lock.json',
} as const;

export interface PyodidePackage {
  dir: string;
  version: string;
}

/** The installed pyodide package, or why it cannot be used. */
export function findPyodide(): PyodidePackage | string {
  let dir: string;
  try {
    dir = path.dirname(createRequire(import.meta.url).resolve('pyodide/package.json'));
  } catch {
    return 'the pyodide npm package is not installed (npm install)';
  }
  const lacking = Object.values(PYODIDE_FILES).filter((f) => !existsSync(path.join(dir, f)));
  if (lacking.length > 0) return `the pyodide package in ${dir} lacks ${lacking.join(', ')}`;
  return {
    dir,
    version: (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version,
  };
}

let bundle: { key: string; line: string } | undefined;

/** The child's first line: the package's files (base64) and its settings; the files are read once per process. */
export function bootLine(pkg: PyodidePackage, cfg: Record<string, unknown>): string {
  if (bundle?.key !== pkg.dir) {
    const files = Object.fromEntries(
      Object.entries(PYODIDE_FILES).map(([k, f]) => [k, readFileSync(path.join(pkg.dir, f)).toString('base64')]),
    );
    bundle = { key: pkg.dir, line: JSON.stringify({ files }) };
  }
  // The cached JSON ends with '}': the settings are spliced in rather than re-encoding 17 MB per start.
  return `${bundle.line.slice(0, -1)},${JSON.stringify(cfg).slice(1)}\n`;
}

/** How the Node child is started: an optional wrapper (unshare) and the identity. */
export interface WasmLaunch {
  wrap: string[];
  uid?: number;
  gid?: number;
  /** Layers this machine could not add. */
  missing: string[];
  notes: string[];
}

/** Node flags of the child: the permission model denies every file, child process, worker, addon and WASI. */
export function childFlags(heapMb: number): string[] {
  const permission = process.allowedNodeEnvironmentFlags.has('--permission')
    ? '--permission'
    : '--experimental-permission';
  return [
    permission,
    '--disallow-code-generation-from-strings',
    '--frozen-intrinsics',
    `--max-old-space-size=${heapMb}`,
    '--expose-gc',
    '--disable-warning=ExperimentalWarning',
    '--no-addons',
    '--no-deprecation',
  ];
}

/** The command line of the child: the wrapper, if any, then Node with its flags. */
export function childCommand(wrap: string[], flags: string[], source: string): [string, string[]] {
  const node = [...flags, '-e', source];
  return wrap.length > 0
    ? [wrap[0] as string, [...wrap.slice(1), process.execPath, ...node]]
    : [process.execPath, node];
}

function works(wrap: string[], identity: { uid?: number; gid?: number }): boolean {
  const [cmd, args] = childCommand(wrap, childFlags(64), '0');
  const r = spawnSync(cmd, args, {
    timeout: 20_000,
    cwd: '/',
    env: { PATH: '/usr/bin:/bin' },
    stdio: 'ignore',
    ...identity,
  });
  return !r.error && r.status === 0;
}

let launch: WasmLaunch | undefined;

/**
 * The strongest way to start the child here, probed once: as uid nobody when we are root (a V8 escape
 * would not be root), and in new network and IPC namespaces through util-linux's `unshare` where user
 * namespaces allow it (a V8 escape would find no network). Each layer is optional: the vm context and
 * the permission model hold without them.
 */
export function wasmLaunch(): WasmLaunch {
  if (launch) return launch;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const nobody = { uid: SANDBOX_UID, gid: SANDBOX_UID };
  const netns = ['--user', '--net', '--ipc', '--'];
  const notes: string[] = [];
  const tries: { wrap: string[]; id: { uid?: number; gid?: number } }[] = root
    ? [
        { wrap: ['unshare', ...netns], id: nobody },
        { wrap: [], id: nobody },
        { wrap: ['unshare', '--net', '--ipc', '--'], id: {} },
        { wrap: [], id: {} },
      ]
    : [
        { wrap: ['unshare', ...netns], id: {} },
        { wrap: [], id: {} },
      ];
  let pick = tries[tries.length - 1] as (typeof tries)[number];
  if (process.platform === 'linux') {
    for (const t of tries) {
      if (works(t.wrap, t.id)) {
        pick = t;
        break;
      }
      notes.push(`${t.wrap.length ? t.wrap.join(' ') : 'node'}${t.id.uid !== undefined ? ' as nobody' : ''} failed`);
    }
  }
  const missing: string[] = [];
  if (pick.wrap.length === 0)
    missing.push(
      'network namespace (the interpreter has no network API, but Node 20 cannot deny sockets to the process itself)',
    );
  if (root && pick.id.uid === undefined) missing.push('a non-root uid for the Node child');
  launch = { wrap: pick.wrap, ...pick.id, missing, notes };
  return launch;
}
