import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { CliCommand, CliEnv, CliOptions, Tool } from '../../core/index.js';
import { runSandboxBench } from './bench.js';
import type { ExecResult, ExecStatus } from './worker.js';

const STATUSES: readonly string[] = ['ok', 'error', 'timeout', 'killed', 'sandbox_error'];

/** A tool that can run a whole program and report its raw result (tool/python has `exec`). */
function hasExec(t: Tool): t is Tool & { exec(code: string): Promise<ExecResult> } {
  return typeof (t as { exec?: unknown }).exec === 'function';
}

/** Through any Tool: the raw result when it has one, else its observation as stdout. */
async function runThrough(tool: Tool, code: string): Promise<ExecResult> {
  if (hasExec(tool)) return tool.exec(code);
  const t0 = performance.now();
  const id = `sandbox-exec-${process.pid}`;
  try {
    const r = await tool.conductAction(id, code);
    const s = String(r.info?.status ?? (r.valid ? 'ok' : 'sandbox_error'));
    const status = (STATUSES.includes(s) ? s : r.valid ? 'error' : 'sandbox_error') as ExecStatus;
    return {
      status,
      stdout: r.observation,
      stderr: '',
      exitCode: typeof r.info?.exitCode === 'number' ? r.info.exitCode : null,
      wallMs: Math.round(performance.now() - t0),
    };
  } finally {
    await tool.finish(id);
  }
}

async function withTool<T>(
  env: CliEnv,
  recipeFile: string | undefined,
  toolName: string | undefined,
  sets: string[],
  fn: (t: Tool) => Promise<T>,
): Promise<T> {
  if (!recipeFile) {
    const tool = await env.createComponent('tool', 'python', {});
    try {
      return await fn(tool);
    } finally {
      await tool.dispose?.();
    }
  }
  const recipe = await env.loadRecipe(recipeFile, sets);
  const tools = Object.entries(recipe.components).filter(([, c]) => c.use.startsWith('tool/'));
  const pick = toolName
    ? tools.find(([n]) => n === toolName)
    : (tools.find(([, c]) => c.use === 'tool/python') ?? tools[0]);
  if (!pick) {
    throw new Error(
      toolName
        ? `recipe ${recipeFile} has no tool instance '${toolName}' (tools: ${tools.map(([n]) => n).join(', ') || 'none'})`
        : `recipe ${recipeFile} defines no tool component`,
    );
  }
  const session = await env.openSession(recipe);
  try {
    return await fn(await session.get(pick[0], 'tool'));
  } finally {
    await session.close();
  }
}

const EXEC_OPTIONS = {
  recipe: {
    type: 'string',
    value: 'R',
    description: 'run through a tool instance of this recipe (default: tool/python with its defaults)',
  },
  tool: {
    type: 'string',
    value: 'NAME',
    description: 'which tool instance of the recipe (default: the tool/python one, else the first tool)',
  },
  set: {
    type: 'string',
    multiple: true,
    value: 'PATH=VALUE',
    description: 'override one recipe value (dotted path, YAML value); repeatable',
  },
} satisfies CliOptions;

export const sandboxExecCommand: CliCommand = {
  name: 'sandbox exec',
  summary: 'run one Python file through the configured sandbox tool; prints one JSON result',
  usage: 'agent0 sandbox exec [--recipe R] [--tool NAME] [--set k=v ...] FILE.py',
  options: EXEC_OPTIONS,
  details: 'prints {"status","stdout","stderr","exitCode","wallMs"}; exits 1 when the sandbox itself failed',
  async run(args, env) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: EXEC_OPTIONS });
    if (positionals.length !== 1) {
      env.stderr(`usage: ${this.usage}`);
      return 2;
    }
    const code = await readFile(positionals[0] as string, 'utf8');
    const r = await withTool(env, values.recipe, values.tool, values.set ?? [], (t) => runThrough(t, code));
    const out: Record<string, unknown> = {
      status: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
      exitCode: r.exitCode,
      wallMs: r.wallMs,
    };
    if (r.reason) out.reason = r.reason;
    if (r.truncated) out.truncated = true;
    // fetched files (tool/sandbox-fusion's fetchFiles), base64 as the sandbox sent them
    const files = (r as { files?: Record<string, string> }).files;
    if (files) out.files = files;
    env.stdout(JSON.stringify(out));
    return r.status === 'sandbox_error' ? 1 : 0;
  },
};

const BENCH_SANDBOX_OPTIONS = {
  calls: { type: 'string', default: '40', value: 'N', description: 'calls per configuration (each imports sympy)' },
  workers: { type: 'string', default: '2', value: 'N', description: 'warm worker processes' },
  'no-warmup': { type: 'boolean', description: 'do not pre-import modules in the warm workers' },
  json: { type: 'boolean', description: 'print the result as JSON' },
} satisfies CliOptions;

export const benchSandboxCommand: CliCommand = {
  name: 'bench sandbox',
  summary: 'python sandbox latency: warm workers vs a fresh interpreter per call (a call importing sympy)',
  usage: 'agent0 bench sandbox [--calls N] [--workers N] [--no-warmup] [--json]',
  options: BENCH_SANDBOX_OPTIONS,
  async run(args, env) {
    const { values } = parseArgs({ args, options: BENCH_SANDBOX_OPTIONS });
    const calls = Number(values.calls);
    const workers = Number(values.workers);
    if (!Number.isInteger(calls) || calls < 2) {
      env.stderr('--calls: expected an integer >= 2');
      return 2;
    }
    if (!Number.isInteger(workers) || workers < 1) {
      env.stderr('--workers: expected an integer >= 1');
      return 2;
    }
    const res = await runSandboxBench({ calls, workers, warmup: !values['no-warmup'], log: (m) => env.stderr(m) });
    if (values.json) {
      env.stdout(JSON.stringify(res));
    } else {
      const row = (name: string, s: { p50Ms: number; p95Ms: number; callsPerSec: number }) =>
        `${name.padEnd(22)} p50 ${s.p50Ms.toFixed(1).padStart(8)} ms   p95 ${s.p95Ms.toFixed(1).padStart(8)} ms   ${s.callsPerSec.toFixed(1).padStart(7)} calls/s`;
      env.stdout(
        [
          `python sandbox (${res.isolation}, ${res.python}, ${res.workers} workers${res.warmup ? '' : ', no warm-up'}, ${res.calls} calls importing sympy)`,
          row('warm workers', res.warm),
          row('fresh interpreter', res.fresh),
          `warm p50 / fresh p50 = ${res.ratioP50.toFixed(3)} (goal <= 0.2: ${res.ratioP50 <= 0.2 ? 'met' : 'NOT met'})`,
        ].join('\n'),
      );
    }
    return 0;
  },
};
