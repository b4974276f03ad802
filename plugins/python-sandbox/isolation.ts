import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** The uid/gid model code runs as (nobody): a non-root kernel uid so RLIMIT_NPROC is enforced. */
export const SANDBOX_UID = 65534;

/**
 * How workers are isolated, strongest first:
 *  - 'bwrap-userns': bwrap started as nobody in its own user, pid, net, ipc, uts and mount namespaces;
 *  - 'bwrap-root':   as root without a user namespace (when user namespaces are off); the worker drops to nobody;
 *  - 'wasm':         CPython compiled to WebAssembly (pyodide, from npm) in a locked-down Node child
 *                    (wasm-worker.ts): no host files, no network API; the fallback without bubblewrap;
 *  - 'none':         a plain process (rlimits, own process groups, scratch dir, cleared env; no namespaces),
 *                    only when the recipe says `isolation: none`.
 * In the process modes the worker is non-dumpable and under a seccomp filter (python/agent0_sandbox/guard.py).
 */
export type IsolationMode = BwrapMode | 'wasm' | 'none';
export type BwrapMode = 'bwrap-userns' | 'bwrap-root';

export interface InterpreterInfo {
  exe: string;
  version: string;
  prefix: string;
  basePrefix: string;
  path: string[];
  /** Preload modules the interpreter can import. */
  has: string[];
}

const PROBE = `import json, sys
has = []
for m in sys.argv[1].split(','):
    try:
        __import__(m); has.append(m)
    except Exception:
        pass
print(json.dumps({'exe': sys.executable, 'version': sys.version.split()[0], 'prefix': sys.prefix,
                  'basePrefix': sys.base_prefix, 'path': [p for p in sys.path if p], 'has': has}))`;

function probe(exe: string, preload: string[], identity: { uid?: number; gid?: number }): InterpreterInfo | undefined {
  const r = spawnSync(exe, ['-I', '-c', PROBE, preload.join(',')], {
    encoding: 'utf8',
    timeout: 30_000,
    cwd: '/',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    ...identity,
  });
  if (r.status !== 0 || !r.stdout) return undefined;
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() as string) as InterpreterInfo;
  } catch {
    return undefined;
  }
}

/**
 * 'auto' prefers Debian's /usr/bin/python3 (where apt puts python3-sympy), then python3 on PATH
 * (which may be a pyenv build without sympy): the first that imports every preload module wins,
 * else the one that imports the most. Probed as the identity workers run under, so an interpreter
 * that identity cannot execute (a pyenv build under /root, say) is never chosen.
 */
export function findInterpreter(
  spec: string,
  preload: string[],
  identity: { uid?: number; gid?: number } = {},
): InterpreterInfo {
  const candidates = spec === 'auto' ? ['/usr/bin/python3', 'python3', 'python'] : [spec];
  let best: InterpreterInfo | undefined;
  for (const c of candidates) {
    const info = probe(c, preload, identity);
    if (!info) continue;
    if (info.has.length === preload.length) return info;
    if (!best || info.has.length > best.has.length) best = info;
  }
  if (!best) {
    const why =
      identity.uid === undefined
        ? ''
        : ` as uid ${identity.uid}: an interpreter under a private home directory is not executable by the sandbox user`;
    throw new Error(`no usable Python interpreter (tried ${candidates.join(', ')})${why}`);
  }
  return best;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** Spawn options for the worker's outer process: as nobody when we are root, so host files stay foreign. */
export function spawnIdentity(mode: IsolationMode): { uid?: number; gid?: number } {
  return isRoot() && mode !== 'bwrap-root' ? { uid: SANDBOX_UID, gid: SANDBOX_UID } : {};
}

/** Options of newer bubblewrap releases the sandbox uses when present (read from `bwrap --help`). */
export interface BwrapFeatures {
  /** --disable-userns (0.8): programs cannot create nested user namespaces, whatever the seccomp filter. */
  disableUserns: boolean;
  /** --as-pid-1: the worker is the namespace's init, so no bwrap process of the program's uid holds its pipes. */
  asPid1: boolean;
}

export function bwrapFeatures(bwrap: string): BwrapFeatures {
  const r = spawnSync(bwrap, ['--help'], {
    encoding: 'utf8',
    timeout: 10_000,
    cwd: '/',
    env: { PATH: '/usr/bin:/bin' },
  });
  const help = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return { disableUserns: help.includes('--disable-userns'), asPid1: help.includes('--as-pid-1') };
}

function namespaceArgs(mode: BwrapMode, f: BwrapFeatures): string[] {
  const a =
    mode === 'bwrap-userns'
      ? [
          '--unshare-all',
          '--unshare-user',
          ...(f.disableUserns ? ['--disable-userns'] : []),
          '--uid',
          String(SANDBOX_UID),
          '--gid',
          String(SANDBOX_UID),
        ]
      : ['--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];
  // bwrap's own init would otherwise sit at pid 1 with the worker's stdin and stdout, traceable by
  // programs of the same uid; as pid 1 the worker also ignores the kill signals programs send it.
  if (f.asPid1) a.push('--as-pid-1');
  return a;
}

function bwrapWorks(bwrap: string, mode: BwrapMode, f: BwrapFeatures): string | undefined {
  const r = spawnSync(bwrap, [...namespaceArgs(mode, f), '--ro-bind', '/', '/', '--proc', '/proc', 'true'], {
    encoding: 'utf8',
    timeout: 10_000,
    cwd: '/',
    env: { PATH: '/usr/bin:/bin' },
    ...spawnIdentity(mode),
  });
  if (r.error) return r.error.message;
  return r.status === 0 ? undefined : (r.stderr || `exit ${r.status}`).trim();
}

export interface IsolationChoice {
  mode: IsolationMode;
  /** What the chosen mode lacks (empty for full isolation). */
  missing: string[];
  /** Why stronger modes were not used. */
  notes: string[];
  features: BwrapFeatures;
}

/** Tries the modes strongest first and says what is missing; `userNamespace: 'never'` skips the first. */
export function chooseIsolation(bwrap: string, userNamespace: 'auto' | 'never'): IsolationChoice {
  const notes: string[] = [];
  const features = bwrapFeatures(bwrap);
  if (userNamespace !== 'never') {
    const err = bwrapWorks(bwrap, 'bwrap-userns', features);
    if (!err) return { mode: 'bwrap-userns', missing: [], notes, features };
    notes.push(`bwrap with a user namespace failed: ${err}`);
  }
  if (isRoot()) {
    const err = bwrapWorks(bwrap, 'bwrap-root', features);
    if (!err) return { mode: 'bwrap-root', missing: [], notes, features };
    notes.push(`bwrap without a user namespace failed: ${err}`);
  } else {
    notes.push('bwrap without a user namespace needs root');
  }
  return {
    mode: 'none',
    missing: [
      'network isolation',
      'filesystem isolation (the project, $HOME and /tmp are visible)',
      'pid namespace',
      'IPC namespace',
    ],
    notes,
    features,
  };
}

/** Read-only binds of the system dirs the interpreter needs; nothing else of the host is visible. */
export function bwrapArgs(mode: BwrapMode, f: BwrapFeatures, interp: InterpreterInfo, scratchBytes: number): string[] {
  const a = namespaceArgs(mode, f);
  a.push(
    '--die-with-parent',
    '--new-session',
    '--clearenv',
    '--hostname',
    'sandbox',
    '--setenv',
    'PATH',
    '/usr/local/bin:/usr/bin:/bin',
    '--setenv',
    'LANG',
    'C.UTF-8',
    '--setenv',
    'OPENBLAS_NUM_THREADS',
    '1',
    '--setenv',
    'OMP_NUM_THREADS',
    '1',
    '--setenv',
    'PYTHONDONTWRITEBYTECODE',
    '1',
    '--ro-bind',
    '/usr',
    '/usr',
  );
  for (const d of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    if (!existsSync(d)) continue;
    if (lstatSync(d).isSymbolicLink()) a.push('--symlink', readlinkSync(d), d);
    else a.push('--ro-bind', d, d);
  }
  // Only what the dynamic loader and BLAS alternatives need: /etc as a whole holds secrets.
  for (const f of ['/etc/alternatives', '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/localtime']) {
    if (existsSync(f)) a.push('--ro-bind', f, f);
  }
  const extra = new Set<string>();
  for (const p of [interp.prefix, interp.basePrefix, path.dirname(realpathSync(interp.exe)), ...interp.path]) {
    if (!p || !existsSync(p)) continue;
    const real = realpathSync(p);
    if (real.startsWith('/usr/') || real === '/usr') continue;
    extra.add(real);
  }
  for (const p of [...extra].sort()) {
    if (![...extra].some((q) => q !== p && p.startsWith(`${q}/`))) a.push('--ro-bind', p, p);
  }
  // The root is bwrap's own tmpfs: read-only, or programs could leave files (and fill memory) outside
  // the size-capped scratch, visible to the worker's later programs.
  a.push(
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(scratchBytes),
    '--tmpfs',
    '/dev/shm',
    '--remount-ro',
    '/dev',
    '--size',
    String(scratchBytes),
    '--tmpfs',
    '/scratch',
    '--remount-ro',
    '/',
    '--chdir',
    '/scratch',
  );
  return a;
}
