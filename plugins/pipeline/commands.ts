import path from 'node:path';
import { parse } from 'yaml';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkpointSet, fillOptions, RunDir, type CliCommand, type CliOptions } from '../../core/index.js';
import { EVAL_ITEMS, EVAL_SUMMARY, REPORT } from './artifacts.js';
import { evaluateTasks } from './evaluation.js';
import { buildReport } from './report/build.js';
import { evaluateStage } from './stages/evaluate.js';
import { reportStage, type ReportOptions } from './stages/report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** configs/ of the agent0 package (one level deeper when running from dist/). */
export function configPath(name: string): string {
  const up = here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..';
  return path.resolve(here, up, 'configs', name);
}

/** The run's own stage/report options (title, note, stage names), from its resolved recipe; else the stage's defaults. */
async function reportOptions(runDir: RunDir): Promise<ReportOptions> {
  const text = await runDir.readResolvedRecipe().catch(() => undefined);
  const recipe = text === undefined ? null : (parse(text) as { pipeline?: Record<string, unknown> } | null);
  const stages = ['setup', 'loop', 'teardown'].flatMap((k) =>
    Array.isArray(recipe?.pipeline?.[k])
      ? (recipe.pipeline[k] as { use?: string; options?: Record<string, unknown> }[])
      : [],
  );
  const report = stages.find((st) => st.use === 'stage/report');
  return fillOptions(reportStage, report?.options);
}

export const reportCommand: CliCommand = {
  name: 'report',
  summary: 'rebuild report.md and plots of a run folder',
  usage: 'agent0 report <run-dir>',
  options: {},
  details:
    '<run-dir>: a folder written by `agent0 run` (metrics.jsonl, recipe.resolved.yaml); prints the path of report.md',
  async run(args, env) {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
    if (positionals.length !== 1) {
      env.stderr(`usage: ${this.usage}`);
      return 2;
    }
    const runDir = new RunDir(path.resolve(positionals[0] as string));
    await buildReport(runDir, await reportOptions(runDir));
    env.stdout(path.join(positionals[0] as string, REPORT));
    return 0;
  },
};

const EVAL_OPTIONS = {
  checkpoint: { type: 'string', value: 'DIR', description: 'the saved policy to evaluate (required)' },
  benchmark: {
    type: 'string',
    value: 'FILE',
    description: 'benchmark file: JSONL/JSON/parquet with problem and answer (required)',
  },
  k: {
    type: 'string',
    default: '0',
    value: 'N',
    description: 'also sample N answers per problem for mean@k and maj@k (0: greedy pass@1 only)',
  },
  'no-tools': { type: 'boolean', description: 'answer without the code tool (no agent loop)' },
  limit: { type: 'string', value: 'N', description: 'evaluate only the first N problems' },
  out: {
    type: 'string',
    value: 'DIR',
    description: 'where items.jsonl and summary.json go (default: runs/eval/<benchmark file name>)',
  },
  recipe: { type: 'string', value: 'R', description: 'evaluation recipe (default: configs/eval.yaml)' },
  set: {
    type: 'string',
    multiple: true,
    value: 'PATH=VALUE',
    description: 'override one recipe value (dotted path, YAML value); repeatable',
  },
} satisfies CliOptions;

export const evalCommand: CliCommand = {
  name: 'eval',
  summary: 'evaluate a saved policy on a benchmark file (greedy pass@1, mean@k / maj@k)',
  usage:
    'agent0 eval --checkpoint DIR --benchmark FILE [--k N] [--no-tools] [--limit N] [--out DIR] [--recipe R] [--set k=v ...]',
  options: EVAL_OPTIONS,
  async run(args, env) {
    const { values } = parseArgs({ args, options: EVAL_OPTIONS });
    if (!values.checkpoint || !values.benchmark) {
      env.stderr(`usage: ${this.usage}`);
      return 2;
    }
    const k = Number(values.k);
    if (!Number.isInteger(k) || k < 0) {
      env.stderr(`--k: expected a non-negative integer, found '${values.k}'`);
      return 2;
    }
    const recipeFile = values.recipe ?? configPath('eval.yaml');
    const sets = [
      checkpointSet('executor', values.checkpoint),
      `components.benchmark.options.splits={bench: ${JSON.stringify(path.resolve(values.benchmark))}}`,
      ...(values.set ?? []),
    ];
    const recipe = await env.loadRecipe(recipeFile, sets);
    const session = await env.openSession(recipe);
    try {
      const executor = await session.get('executor', 'policy');
      const loop = values['no-tools'] ? undefined : await session.get('executor_loop', 'agent-loop');
      const verifier = await session.get('verifier', 'verifier');
      const source = await session.get('benchmark', 'task-source');
      const tasks = await source.load('bench', values.limit ? { limit: Number(values.limit) } : {});
      const progress = session.context.progress('eval', tasks.length, 'item');
      // Prompts and budgets of the recipe's evaluate stage; a recipe without one gets that stage's defaults.
      const opts = fillOptions(evaluateStage, recipe.pipeline.loop.find((s) => s.use === 'stage/evaluate')?.options);
      const res = await evaluateTasks(
        executor,
        loop,
        verifier,
        tasks,
        {
          executorPrompt: opts.executorPrompt,
          chat: opts.chat,
          maxNewTokens: opts.maxNewTokens,
          k,
          sampling: opts.sampling,
          rolloutBatch: opts.rolloutBatch,
          stop: opts.stop,
          seed: recipe.seed,
        },
        (n) => progress.tick(n),
      );
      progress.done({ accuracy: res.summary.accuracy });
      const out = new RunDir(
        path.resolve(values.out ?? path.join('runs', 'eval', path.basename(values.benchmark).replace(/\.[^.]+$/, ''))),
      );
      await out.writeText(EVAL_ITEMS, res.items.map((x) => JSON.stringify(x)).join('\n') + '\n');
      await out.writeJson(EVAL_SUMMARY, {
        checkpoint: values.checkpoint,
        benchmark: values.benchmark,
        tools: !values['no-tools'],
        ...res.summary,
      });
      env.stdout(JSON.stringify({ out: out.root, tools: !values['no-tools'], ...res.summary }));
      return 0;
    } finally {
      await session.close();
    }
  },
};
