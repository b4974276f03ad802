import path from 'node:path';
import { parse } from 'yaml';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  checkpointSet,
  componentId,
  defaultRunDir,
  fillOptions,
  RunDir,
  type CliCommand,
  type CliOptions,
  type ComponentDefinition,
  type PipelineSpec,
  type StageSpec,
} from '../../core/index.js';
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

/**
 * The options of a pipeline's first `def` stage (setup, loop, teardown), its schema's defaults filled in; the defaults
 * alone when it has none.
 */
function stageOptions<O>(def: ComponentDefinition<'stage', O>, pipeline: Partial<PipelineSpec> | null | undefined): O {
  const id = componentId(def);
  const stage = (['setup', 'loop', 'teardown'] as const)
    .flatMap((k) => (Array.isArray(pipeline?.[k]) ? (pipeline[k] as Partial<StageSpec>[]) : []))
    .find((st) => st.use === id);
  return fillOptions(def, stage?.options);
}

/** The run's own stage/report options (title, note, stage names), from its resolved recipe. */
async function reportOptions(runDir: RunDir): Promise<ReportOptions> {
  const text = await runDir.readResolvedRecipe().catch(() => undefined);
  const recipe = text === undefined ? null : (parse(text) as { pipeline?: Partial<PipelineSpec> } | null);
  return stageOptions(reportStage, recipe?.pipeline);
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
    value: 'N',
    description:
      "also sample N answers per problem for mean@k and maj@k (0: greedy pass@1 only; default: the recipe's stage/evaluate k)",
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
    const kFlag = values.k === undefined ? undefined : Number(values.k);
    if (kFlag !== undefined && (!Number.isInteger(kFlag) || kFlag < 0)) {
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
      // Prompts, budgets and k of the recipe's evaluate stage; a recipe without one gets that stage's defaults.
      const opts = stageOptions(evaluateStage, recipe.pipeline);
      const k = kFlag ?? opts.k;
      const res = await evaluateTasks(executor, loop, verifier, tasks, { ...opts, k, seed: recipe.seed }, (n) =>
        progress.tick(n),
      );
      progress.done({ accuracy: res.summary.accuracy });
      const out = new RunDir(
        path.resolve(values.out ?? defaultRunDir('eval', path.basename(values.benchmark).replace(/\.[^.]+$/, ''))),
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
