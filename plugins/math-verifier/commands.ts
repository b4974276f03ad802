import { createWriteStream } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Ajv } from 'ajv';
import type { CliCommand, CliOptions } from '../../core/index.js';
import { caseOptions, optionsKey, readCases, type VerifyCase } from './cases.js';
import { MATH_VERIFIER_SCHEMA } from './options.js';
import { DEFAULT_VERIFIER, goldAnswer, MathVerifier, type MathVerifierOptions } from './verifier.js';

/** Comparisons kept in flight by `agent0 verify` (results are still written in input order). */
const IN_FLIGHT = 64;

const validateOptions = new Ajv({ useDefaults: true, allErrors: true }).compile(MATH_VERIFIER_SCHEMA);

/** `--options '{"timeoutMs": 500}'`, checked against the component's schema. */
function parseOptionsArg(raw: string | undefined): Partial<MathVerifierOptions> {
  if (!raw) return {};
  const o = JSON.parse(raw) as unknown;
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new Error('--options: expected a JSON object');
  const filled = structuredClone(o) as Record<string, unknown>;
  if (!validateOptions(filled)) {
    const why = (validateOptions.errors ?? []).map(
      (e) =>
        `${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` '${String(e.params.additionalProperty)}'` : ''}`,
    );
    throw new Error(`--options: ${why.join('; ')}`);
  }
  return o as Partial<MathVerifierOptions>;
}

type LineResult = { correct: boolean; extracted: string | null; gold?: string; error?: string };

async function verifyLine(v: MathVerifier, line: string): Promise<LineResult> {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch (e) {
    return { correct: false, extracted: null, error: `not JSON: ${(e as Error).message}` };
  }
  const r = row as { gold?: unknown; pred?: unknown };
  const str = (x: unknown) => (typeof x === 'string' ? x : typeof x === 'number' ? String(x) : null);
  const gold = str(r?.gold);
  const pred = str(r?.pred);
  if (gold === null || pred === null)
    return { correct: false, extracted: null, error: 'expected string (or number) fields "gold" and "pred"' };
  const out = await v.verify(gold, pred);
  return { correct: out.correct, extracted: out.extracted, gold: goldAnswer(gold) };
}

const VERIFIER_OPTIONS = {
  type: 'string',
  value: 'JSON',
  description: 'verifier/math options as a JSON object (`agent0 plugins` lists them)',
} as const;
const VERIFY_OPTIONS = {
  jsonl: {
    type: 'string',
    value: 'FILE',
    description: 'input: one {"gold": ..., "pred": ...} object per line (required)',
  },
  out: { type: 'string', value: 'FILE', description: 'write the result lines to FILE instead of stdout' },
  options: VERIFIER_OPTIONS,
} satisfies CliOptions;

export const verifyCommand: CliCommand = {
  name: 'verify',
  summary: 'check {"gold","pred"} JSONL lines with the math verifier; one result line per input, in order',
  usage: 'agent0 verify --jsonl FILE [--out FILE] [--options JSON]',
  options: VERIFY_OPTIONS,
  async run(args, env) {
    const { values } = parseArgs({ args, options: VERIFY_OPTIONS });
    if (!values.jsonl) {
      env.stderr(`usage: ${this.usage}`);
      return 2;
    }
    let opts: Partial<MathVerifierOptions>;
    try {
      opts = parseOptionsArg(values.options);
    } catch (e) {
      env.stderr((e as Error).message);
      return 2;
    }
    const text = await readFile(path.resolve(env.cwd, values.jsonl), 'utf8');
    const lines = text
      .split('\n')
      .map((l, i) => ({ l, n: i + 1 }))
      .filter((x) => x.l.trim());
    const v = new MathVerifier({ ...DEFAULT_VERIFIER, ...opts });
    const sink = values.out ? createWriteStream(path.resolve(env.cwd, values.out)) : null;
    const write = (s: string) => (sink ? sink.write(`${s}\n`) : env.stdout(s));
    let correct = 0;
    try {
      for (let i = 0; i < lines.length; i += IN_FLIGHT) {
        const chunk = lines.slice(i, i + IN_FLIGHT);
        const results = await Promise.all(chunk.map((x) => verifyLine(v, x.l)));
        results.forEach((r, j) => {
          if (r.correct) correct++;
          write(JSON.stringify({ line: chunk[j]!.n, ...r }));
        });
      }
    } finally {
      await v.dispose();
      if (sink) await new Promise<void>((res, rej) => sink.end((e?: Error | null) => (e ? rej(e) : res())));
    }
    env.stderr(
      `verified ${lines.length} lines: ${correct} correct (${v.stats.fast} in-thread, ${v.stats.pooled} in workers, ${v.stats.timeouts} timed out)`,
    );
    return 0;
  },
};

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export interface VerifierBenchResult {
  file: string;
  cases: number;
  passes: number;
  startupMs: number;
  medianMs: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  accuracy: number;
  byCategory: Record<string, { n: number; correct: number }>;
  inThread: number;
  inWorkers: number;
  timeouts: number;
  /** Mean cost of one equivalent() on short integer answers (the majority-vote common case), cache off. */
  integerPairUs: number;
}

/** Times `verify(gold, pred)` (extraction + comparison, cache off) on every case, sequentially. */
export async function runVerifierBench(
  cases: VerifyCase[],
  o: { passes: number; file: string; options?: Partial<MathVerifierOptions> },
): Promise<VerifierBenchResult> {
  const verifiers = new Map<string, MathVerifier>();
  const t0 = performance.now();
  for (const c of cases) {
    const co = { ...o.options, ...caseOptions(c) };
    const key = optionsKey(co);
    if (!verifiers.has(key)) verifiers.set(key, new MathVerifier({ ...DEFAULT_VERIFIER, ...co, cacheSize: 0 }));
  }
  await Promise.all([...verifiers.values()].map((v) => v.ready()));
  const startupMs = performance.now() - t0;
  const times: number[] = [];
  const byCategory: Record<string, { n: number; correct: number }> = {};
  let correct = 0;
  try {
    for (let pass = 0; pass < o.passes; pass++) {
      for (const c of cases) {
        const v = verifiers.get(optionsKey({ ...o.options, ...caseOptions(c) }))!;
        const t = performance.now();
        const r = await v.verify(c.gold, c.pred);
        times.push(performance.now() - t);
        if (pass === 0) {
          const cat = (byCategory[c.category] ??= { n: 0, correct: 0 });
          cat.n++;
          if (r.correct === c.expected) {
            cat.correct++;
            correct++;
          }
        }
      }
    }
  } finally {
    await Promise.all([...verifiers.values()].map((v) => v.dispose()));
  }
  const ints = new MathVerifier({ ...DEFAULT_VERIFIER, ...o.options, cacheSize: 0, workers: 1 });
  let integerPairUs: number;
  try {
    const n = 20_000;
    const t = performance.now();
    for (let i = 0; i < n; i++) await ints.equivalent(String(i % 97), String((i * 7) % 97));
    integerPairUs = ((performance.now() - t) * 1000) / n;
  } finally {
    await ints.dispose();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const stats = [...verifiers.values()].reduce(
    (s, v) => ({
      fast: s.fast + v.stats.fast,
      pooled: s.pooled + v.stats.pooled,
      timeouts: s.timeouts + v.stats.timeouts,
    }),
    { fast: 0, pooled: 0, timeouts: 0 },
  );
  return {
    file: o.file,
    cases: cases.length,
    passes: o.passes,
    startupMs,
    medianMs: quantile(sorted, 0.5),
    p95Ms: quantile(sorted, 0.95),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    meanMs: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length),
    accuracy: correct / Math.max(1, cases.length),
    byCategory,
    inThread: stats.fast,
    inWorkers: stats.pooled,
    timeouts: stats.timeouts,
    integerPairUs,
  };
}

const DEFAULT_CASES = [
  '../shared/testdata/math-verify-cases.jsonl',
  'test/plugins/math-verifier/fixtures/math-verify-cases.jsonl',
];

const BENCH_VERIFIER_OPTIONS = {
  file: {
    type: 'string',
    value: 'CASES.jsonl',
    description: `verification cases (default: the first of ${DEFAULT_CASES.join(', ')})`,
  },
  passes: {
    type: 'string',
    default: '3',
    value: 'N',
    description: 'times every case is verified (latency percentiles over all passes)',
  },
  options: VERIFIER_OPTIONS,
  json: { type: 'boolean', description: 'print the result as JSON' },
} satisfies CliOptions;

export const benchVerifierCommand: CliCommand = {
  name: 'bench verifier',
  summary: 'math verifier latency per comparison (median, p95) and accuracy on the verification cases',
  usage: 'agent0 bench verifier [--file CASES.jsonl] [--passes N] [--options JSON] [--json]',
  options: BENCH_VERIFIER_OPTIONS,
  async run(args, env) {
    const { values } = parseArgs({ args, options: BENCH_VERIFIER_OPTIONS });
    const passes = Number(values.passes);
    if (!Number.isInteger(passes) || passes < 1) {
      env.stderr('--passes: expected an integer >= 1');
      return 2;
    }
    let opts: Partial<MathVerifierOptions>;
    try {
      opts = parseOptionsArg(values.options);
    } catch (e) {
      env.stderr((e as Error).message);
      return 2;
    }
    let file = values.file ? path.resolve(env.cwd, values.file) : null;
    if (!file) {
      for (const f of DEFAULT_CASES) {
        const abs = path.resolve(env.cwd, f);
        if (
          await access(abs).then(
            () => true,
            () => false,
          )
        ) {
          file = abs;
          break;
        }
      }
    }
    if (!file) {
      env.stderr(`no cases file found (looked for ${DEFAULT_CASES.join(', ')}); pass --file`);
      return 2;
    }
    const res = await runVerifierBench(await readCases(file), { passes, file, options: opts });
    if (values.json) {
      env.stdout(JSON.stringify(res));
      return 0;
    }
    const cats = Object.entries(res.byCategory)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([k, s]) =>
          `  ${k.padEnd(36)} ${String(s.correct).padStart(4)} / ${String(s.n).padEnd(4)} ${((100 * s.correct) / s.n).toFixed(1).padStart(6)}%`,
      );
    env.stdout(
      [
        `math verifier on ${path.basename(file)}: ${res.cases} cases x ${res.passes} passes (workers started in ${res.startupMs.toFixed(0)} ms)`,
        `per comparison: median ${res.medianMs.toFixed(2)} ms   p95 ${res.p95Ms.toFixed(2)} ms   p99 ${res.p99Ms.toFixed(2)} ms   max ${res.maxMs.toFixed(1)} ms   mean ${res.meanMs.toFixed(2)} ms`,
        `p95 goal <= 29 ms: ${res.p95Ms <= 29 ? 'met' : 'NOT met'}; ${res.inThread} answered in-thread, ${res.inWorkers} in workers, ${res.timeouts} timed out`,
        `integer answers (majority-vote case): ${res.integerPairUs.toFixed(1)} µs per comparison, in-thread`,
        `accuracy ${(100 * res.accuracy).toFixed(1)}%`,
        ...cats,
      ].join('\n'),
    );
    return 0;
  },
};
