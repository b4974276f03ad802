import { spawnSync } from 'node:child_process';

export interface TorchProbe {
  ok: boolean;
  /** torch's version, when it imports. */
  torch?: string;
  /** 'torch 2.11.0, python 3.12.3', or why it failed. */
  detail: string;
}

const probed = new Map<string, TorchProbe>();

/** Whether `python` imports torch (cached per process: importing torch takes seconds). */
export function probeTorchPython(python: string): TorchProbe {
  const hit = probed.get(python);
  if (hit) return hit;
  const r = spawnSync(python, ['-c', 'import torch, sys; print(torch.__version__); print(sys.version.split()[0])'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const [torch, version] = (r.stdout ?? '').split('\n').map((l) => l.trim());
  const res: TorchProbe =
    r.status === 0
      ? { ok: true, torch: torch ?? '', detail: `torch ${torch}, python ${version}` }
      : {
          ok: false,
          detail: r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-1)[0] || `exit ${r.status}`,
        };
  probed.set(python, res);
  return res;
}

/**
 * The first of `candidates` that imports torch (pyenv shims often hide Debian's python3-torch at
 * /usr/bin/python3), with what each other one said.
 */
export function findTorchPython(candidates: readonly (string | undefined)[]): { python?: string; tried: string[] } {
  const tried: string[] = [];
  for (const py of candidates.filter((p): p is string => !!p)) {
    const r = probeTorchPython(py);
    if (r.ok) return { python: py, tried };
    tried.push(`${py}: ${r.detail}`);
  }
  return { tried };
}
