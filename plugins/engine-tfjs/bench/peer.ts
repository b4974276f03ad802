import { spawn } from 'node:child_process';
import { findTorchPython as findTorch } from '../../../core/index.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Qwen3Config } from '../model/config.js';
import type { BenchResult, BenchShape } from './measure.js';

/** Which BLAS the peer's matmuls ran on (bench/peers/qwen3_torch.py, blas_info()). */
export interface PeerBlas {
  /** torch's build-time BLAS_INFO (generic: whatever libblas.so.3 the system resolves). */
  build: string;
  library: 'openblas' | 'mkl' | 'blis' | 'atlas' | 'flexiblas' | 'accelerate' | 'reference' | 'unknown';
  /** Version and build string as the library reports it. */
  detail: string;
  /** The file torch's sgemm_ resolved to. */
  path: string | null;
  threads: number | null;
}

/** What `--probe` prints: the peer's setup without timing anything. */
export interface PeerProbe {
  torch: string;
  /** torch's intra-op threads. */
  threads: number;
  blas: PeerBlas;
}

export interface PeerResult extends BenchResult, PeerProbe {}

const PEER_SCRIPT = path.join('bench', 'peers', 'qwen3_torch.py');

/** bench/peers/ sits at the package root: walk up from this file (source or dist/) to find it. */
export function findPeerScript(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const f = path.join(dir, PEER_SCRIPT);
    if (existsSync(f)) return f;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The first python that imports torch: pyenv shims often hide Debian's python3-torch at /usr/bin/python3. */
export function findTorchPython(): string | undefined {
  return findTorch([process.env.AGENT0_PEER_PYTHON, 'python3', '/usr/bin/python3']).python;
}

/** Runs the PyTorch peer on the same config and shapes (1 BLAS thread, `threads` torch threads). */
export function runPeer(
  python: string,
  script: string,
  config: Qwen3Config,
  shape: BenchShape,
  threads = 2,
): Promise<PeerResult> {
  return callPeer<PeerResult>(python, [script], { config, shape, threads }, threads);
}

/**
 * The peer's torch, threads and BLAS, in the environment `runPeer` gives it, without timing.
 * `env` adds variables (LD_LIBRARY_PATH picks another libblas.so.3).
 */
export function probePeer(
  python: string,
  script: string,
  threads = 2,
  env: Record<string, string> = {},
): Promise<PeerProbe> {
  return callPeer<PeerProbe>(python, [script, '--probe'], { threads }, threads, env);
}

function callPeer<T>(
  python: string,
  args: string[],
  input: unknown,
  threads: number,
  env: Record<string, string> = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, {
      env: { ...process.env, ...env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: String(threads) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0)
        return reject(new Error(`PyTorch peer exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() as string) as T);
      } catch (e) {
        reject(new Error(`PyTorch peer printed no JSON: ${(e as Error).message}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}
