import { spawn } from 'node:child_process';
import pLimit from 'p-limit';
import { bwrapArgs, spawnIdentity } from './isolation.js';
import { pythonToolDefaults } from './options.js';
import { PythonSandbox } from './sandbox.js';
import type { PythonToolOptions } from './tool.js';

/**
 * Call `i`: import sympy and factor a cubic that no other call (nor the worker's warm-up) uses,
 * so sympy's caches never answer it.
 */
export function benchCode(i: number): { code: string; factors: string[] } {
  const [a, b, c] = [i + 2, i + 3, 2 * i + 5];
  return {
    code: `import sympy\nx = sympy.Symbol('x')\nprint(sympy.factor(sympy.expand((x - ${a}) * (x + ${b}) * (x - ${c}))))\n`,
    factors: [`(x - ${a})`, `(x + ${b})`, `(x - ${c})`],
  };
}

function factored(stdout: string, factors: string[]): boolean {
  return factors.every((f) => stdout.includes(f));
}

export interface LatencyStats {
  p50Ms: number;
  p95Ms: number;
  meanMs: number;
  callsPerSec: number;
  failures: number;
}

export interface SandboxBenchResult {
  isolation: string;
  python: string;
  workers: number;
  calls: number;
  /** Whether the workers ran the default warm-up. */
  warmup: boolean;
  warm: LatencyStats;
  fresh: LatencyStats;
  /** warm p50 / fresh p50 (goal: at most 0.2). */
  ratioP50: number;
}

/** Nearest-rank percentile. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

async function measure(
  calls: number,
  concurrency: number,
  one: (i: number) => Promise<boolean>,
): Promise<LatencyStats> {
  const limit = pLimit(concurrency);
  const lat: number[] = [];
  let failures = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: calls }, (_, i) =>
      limit(async () => {
        const s = performance.now();
        if (!(await one(i))) failures++;
        lat.push(performance.now() - s);
      }),
    ),
  );
  const total = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    p50Ms: r(percentile(lat, 50)),
    p95Ms: r(percentile(lat, 95)),
    meanMs: r(lat.reduce((a, b) => a + b, 0) / lat.length),
    callsPerSec: r(calls / total),
    failures,
  };
}

/** One fresh interpreter per call, under the same isolation as the warm workers. */
function freshCall(sb: PythonSandbox, code: string, factors: string[]): Promise<boolean> {
  const { mode, interpreter } = sb.info;
  if (mode === 'wasm') throw new Error('no fresh-interpreter baseline in wasm mode');
  const py = [interpreter.exe, '-I', '-c', code];
  const [cmd, ...args] =
    mode === 'none'
      ? py
      : [
          sb.options.bwrap,
          ...bwrapArgs(mode, sb.info.features, interpreter, sb.options.scratchMb * 1024 * 1024),
          ...py,
        ];
  return new Promise((resolve) => {
    const p = spawn(cmd as string, args, {
      stdio: ['ignore', 'pipe', 'ignore'],
      cwd: '/',
      env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', OPENBLAS_NUM_THREADS: '1' },
      ...spawnIdentity(mode),
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.on('error', () => resolve(false));
    p.on('close', (c) => resolve(c === 0 && factored(out, factors)));
  });
}

/** Warm pool vs fresh interpreter per call, `calls` each, `workers` at a time. */
export async function runSandboxBench(o: {
  calls: number;
  workers: number;
  warmup?: boolean;
  log?: (m: string) => void;
}): Promise<SandboxBenchResult> {
  const opts = {
    ...pythonToolDefaults(),
    workers: o.workers,
    ...(o.warmup === false ? { warmup: '' } : {}),
  } as unknown as PythonToolOptions;
  const sb = await PythonSandbox.create(opts, o.log);
  try {
    if (sb.info.mode === 'wasm') {
      throw new Error(
        'bench sandbox times a sympy program, which the wasm mode (standard library only) cannot run: it needs bubblewrap; docs/sandbox.md has the wasm figures',
      );
    }
    await Promise.all(Array.from({ length: o.workers }, () => sb.exec('pass')));
    o.log?.(`warm: ${o.calls} calls`);
    const warm = await measure(o.calls, o.workers, async (i) => {
      const { code, factors } = benchCode(i);
      const r = await sb.exec(code);
      return r.status === 'ok' && factored(r.stdout, factors);
    });
    o.log?.(`fresh: ${o.calls} calls`);
    // Other polynomials than the warm run's (i + calls): no call of either run repeats another's.
    const fresh = await measure(o.calls, o.workers, (i) => {
      const { code, factors } = benchCode(i + o.calls);
      return freshCall(sb, code, factors);
    });
    return {
      isolation: sb.info.mode,
      python: `${sb.info.interpreter.exe} ${sb.info.interpreter.version}`,
      workers: o.workers,
      calls: o.calls,
      warmup: o.warmup !== false,
      warm,
      fresh,
      ratioP50: Math.round((warm.p50Ms / fresh.p50Ms) * 1000) / 1000,
    };
  } finally {
    await sb.close();
  }
}
