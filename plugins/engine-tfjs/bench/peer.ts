import { spawn } from 'node:child_process';
import { findTorchPython as findTorch } from '../../../core/index.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Qwen3Config } from '../model/config.js';
import type { BenchResult, BenchShape } from './measure.js';

export interface PeerResult extends BenchResult {
  torch: string;
  threads: number;
}

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

/** Runs the PyTorch peer on the same config and shapes (1 BLAS thread, 2 torch threads). */
export function runPeer(python: string, script: string, config: Qwen3Config, shape: BenchShape, threads = 2): Promise<PeerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: String(threads) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`PyTorch peer exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() as string) as PeerResult);
      } catch (e) {
        reject(new Error(`PyTorch peer printed no JSON: ${(e as Error).message}`));
      }
    });
    child.stdin.end(JSON.stringify({ config, shape, threads }));
  });
}
