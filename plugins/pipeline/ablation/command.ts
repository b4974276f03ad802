import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import {
  defaultRunDir,
  RecipeError,
  RunDir,
  runPipeline,
  SETUP_ITERATION,
  parseStageKey,
  stageKey,
  type CliCommand,
  type CliEnv,
  type CliOptions,
} from '../../../core/index.js';
import { barChart } from '../report/svg.js';
import { ablationCsv, ablationMarkdown, ablationRows, type VariantRun } from './table.js';

interface Variant {
  name: string;
  file: string;
}

/** Recipe files named on the command line, folders expanded to their *.yaml (sorted). */
async function collect(inputs: string[], cwd: string): Promise<Variant[]> {
  const out: Variant[] = [];
  for (const input of inputs) {
    const abs = path.resolve(cwd, input);
    const st = await fs.stat(abs).catch(() => undefined);
    if (!st) throw new Error(`ablate: ${input}: no such file or folder`);
    const files = st.isDirectory()
      ? (await fs.readdir(abs))
          .filter((f) => /\.ya?ml$/.test(f))
          .sort()
          .map((f) => path.join(abs, f))
      : [abs];
    for (const f of files) out.push({ name: path.basename(f).replace(/\.ya?ml$/, ''), file: f });
  }
  const seen = new Set<string>();
  for (const v of out) {
    if (seen.has(v.name)) throw new Error(`ablate: two variants are named '${v.name}'; rename one file`);
    seen.add(v.name);
  }
  return out;
}

/** The recipe the variants extend (they must all extend the same one): the full recipe of the table. */
async function fullRecipe(variants: Variant[]): Promise<string | undefined> {
  const parents = new Set<string>();
  for (const v of variants) {
    const doc = parse(await fs.readFile(v.file, 'utf8')) as { extends?: unknown } | null;
    if (typeof doc?.extends === 'string') parents.add(path.resolve(path.dirname(v.file), doc.extends));
  }
  return parents.size === 1 ? [...parents][0] : undefined;
}

/** Final held-out numbers of a finished run: its last `evaluate` stage (or the setup baseline). */
export async function finalNumbers(runDir: string, evaluate: string): Promise<Omit<VariantRun, 'variant' | 'seed'>> {
  const state = await new RunDir(runDir).loadState();
  const keys = state.done.filter((k) => {
    const p = parseStageKey(k);
    return p?.stage === evaluate && p.iteration !== SETUP_ITERATION;
  });
  const key = keys[keys.length - 1] ?? state.done.find((k) => k === stageKey('baseline', SETUP_ITERATION));
  if (!key) throw new Error(`${runDir}: no finished '${evaluate}' stage`);
  const s = state.summaries[key] ?? {};
  const n = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : NaN);
  const seconds = Object.values(state.summaries).reduce(
    (a, x) => a + (typeof x.seconds === 'number' ? x.seconds : 0),
    0,
  );
  return { easy: n('easy.accuracy'), hard: n('hard.accuracy'), toolCalls: n('hard.toolCallsPerSolution'), seconds };
}

async function runOne(env: CliEnv, file: string, sets: string[], runDir: string, version: string): Promise<void> {
  const recipe = await env.loadRecipe(file, sets);
  const resume = await new RunDir(runDir).hasState();
  await runPipeline(recipe, env.registry, { runDir, resume, log: env.log, version });
}

const ABLATE_OPTIONS = {
  seeds: { type: 'string', default: '1', value: 'N', description: 'runs per variant, with seed=0..N-1' },
  full: { type: 'string', value: 'R', description: 'the full recipe (default: the one every variant extends)' },
  out: {
    type: 'string',
    default: defaultRunDir('ablation'),
    value: 'DIR',
    description: 'where run folders and ablation.md / .csv / .svg go',
  },
  set: {
    type: 'string',
    multiple: true,
    value: 'PATH=VALUE',
    description: 'override one value in every variant (dotted path, YAML value); repeatable',
  },
  evaluate: {
    type: 'string',
    default: 'evaluate',
    value: 'STAGE',
    description: 'the evaluation stage whose final numbers are compared',
  },
} satisfies CliOptions;

export const ablateCommand: CliCommand = {
  name: 'ablate',
  summary: 'run ablation variants (and the full recipe they extend) over seeds; write ablation.md / .csv / .svg',
  usage: 'agent0 ablate <dir-or-recipes...> [--seeds N] [--full R] [--out DIR] [--set k=v ...] [--evaluate STAGE]',
  options: ABLATE_OPTIONS,
  details:
    '<dir-or-recipes...>: variant recipes, or folders of them (recipes/ablations/); a run folder with a state.json is resumed',
  async run(args, env) {
    const { positionals, values } = parseArgs({ args, allowPositionals: true, options: ABLATE_OPTIONS });
    const seeds = Number(values.seeds);
    if (positionals.length === 0 || !Number.isInteger(seeds) || seeds < 1) {
      env.stderr(`usage: ${this.usage}`);
      return 2;
    }
    const variants = await collect(positionals, env.cwd);
    const fullFile = values.full ? path.resolve(env.cwd, values.full) : await fullRecipe(variants);
    if (!fullFile) {
      env.stderr('ablate: the variants do not all extend one recipe; name the full recipe with --full');
      return 2;
    }
    const all: Variant[] = [
      { name: 'full', file: fullFile },
      ...variants.filter((v) => path.resolve(v.file) !== fullFile),
    ];
    const out = path.resolve(env.cwd, values.out);
    // Validate every variant before any work starts: a typo in the last file must not cost an hour.
    try {
      for (const v of all)
        for (let s = 0; s < seeds; s++) await env.loadRecipe(v.file, [...(values.set ?? []), `seed=${s}`]);
    } catch (e) {
      if (e instanceof RecipeError) {
        env.stderr(e.message);
        return 2;
      }
      throw e;
    }
    const started = Date.now();
    const runs: VariantRun[] = [];
    let done = 0;
    const total = all.length * seeds;
    for (const v of all) {
      for (let s = 0; s < seeds; s++) {
        const dir = path.join(out, v.name, `seed-${s}`);
        const elapsed = (Date.now() - started) / 1000;
        const eta = done > 0 ? ` — ETA ${Math.round((elapsed / done) * (total - done))} s` : '';
        env.log.info(`ablate ${done + 1}/${total}: ${v.name} seed ${s} → ${path.relative(env.cwd, dir)}${eta}`);
        await runOne(env, v.file, [...(values.set ?? []), `seed=${s}`], dir, 'ablate');
        runs.push({ variant: v.name, seed: s, ...(await finalNumbers(dir, values.evaluate)) });
        done++;
      }
    }
    const rows = ablationRows(
      runs,
      all.map((v) => v.name),
      'full',
    );
    const wall = Math.round((Date.now() - started) / 1000);
    const md = [
      '# Ablation',
      '',
      `Variants of \`${path.relative(env.cwd, fullFile)}\`, ${seeds} seed(s) each; held-out accuracy of the final executor (greedy pass@1) and tool calls per solution on the hard split.`,
      `Δ columns: difference of the means to the full recipe. Wall time of this invocation: ${wall} s (runs already finished are reused).`,
      '',
      ablationMarkdown(rows),
      '',
      '![hard-split accuracy per variant](ablation.svg)',
      '',
    ].join('\n');
    await fs.mkdir(out, { recursive: true });
    const rd = new RunDir(out);
    await rd.writeText('ablation.md', md);
    await rd.writeText('ablation.csv', ablationCsv(rows));
    await rd.writeText(
      'ablation.svg',
      barChart(
        'Held-out accuracy by variant',
        'variant',
        'accuracy',
        rows.map((r) => r.variant),
        [
          { name: 'easy', values: rows.map((r) => r.easy.mean) },
          { name: 'hard', values: rows.map((r) => r.hard.mean) },
        ],
      ),
    );
    await rd.writeJson('runs.json', runs);
    env.stdout(JSON.stringify({ out, variants: all.map((v) => v.name), seeds, wallSeconds: wall }));
    return 0;
  },
};
