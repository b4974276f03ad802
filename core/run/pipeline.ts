import { createHash } from 'node:crypto';
import path from 'node:path';
import { stringify } from 'yaml';
import type { PipelineStage, StageContext } from '../contracts/stage.js';
import type { Registry } from '../plugin/registry.js';
import { recipeUses } from '../recipe/load.js';
import type { ResolvedRecipe, StageSpec } from '../recipe/types.js';
import { Logger } from '../util/logger.js';
import type { ProgressFactory } from '../util/progress.js';
import { gitCommit } from './provenance.js';
import { recoverTree } from '../util/dirs.js';
import { recordCheckpoint } from './checkpoints.js';
import { SETUP_ITERATION, stageDir, stageKey, TEARDOWN_ITERATION } from './layout.js';
import { lockRunDir } from './lock.js';
import { RunDir, type RunState, type StageStateFile } from './run-dir.js';
import { RunSession } from './session.js';

export interface RunOptions {
  runDir: string;
  resume?: boolean;
  log?: Logger;
  progress?: ProgressFactory;
  signal?: AbortSignal;
  /** Version of the agent0 package, recorded in the resolved recipe. */
  version?: string;
}

export interface RunResult {
  runDir: string;
  executed: string[];
  skipped: string[];
  summaries: RunState['summaries'];
}

interface Execution {
  key: string;
  section: 'setup' | 'loop' | 'teardown';
  iteration: number;
  stage: StageSpec;
}

/** The stage executions of a pipeline, in order: setup, then `loop` × iterations, then teardown. */
export function plan(recipe: ResolvedRecipe): Execution[] {
  const out: Execution[] = [];
  for (const stage of recipe.pipeline.setup)
    out.push({ key: stageKey(stage.name, SETUP_ITERATION), section: 'setup', iteration: SETUP_ITERATION, stage });
  for (let i = 1; i <= recipe.pipeline.iterations; i++) {
    for (const stage of recipe.pipeline.loop)
      out.push({ key: stageKey(stage.name, i), section: 'loop', iteration: i, stage });
  }
  for (const stage of recipe.pipeline.teardown)
    out.push({
      key: stageKey(stage.name, TEARDOWN_ITERATION),
      section: 'teardown',
      iteration: TEARDOWN_ITERATION,
      stage,
    });
  return out;
}

export function recipeHash(recipe: ResolvedRecipe): string {
  const { provenance: _p, ...rest } = recipe;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

/** Runs a validated recipe's pipeline in a fresh child container, resumably; one process per run folder. */
export async function runPipeline(recipe: ResolvedRecipe, registry: Registry, opts: RunOptions): Promise<RunResult> {
  await registry.load(recipeUses(recipe));
  const runDir = new RunDir(path.resolve(opts.runDir));
  const unlock = await lockRunDir(runDir.root);
  try {
    return await runLocked(recipe, registry, opts, runDir);
  } finally {
    await unlock();
  }
}

async function runLocked(
  recipe: ResolvedRecipe,
  registry: Registry,
  opts: RunOptions,
  runDir: RunDir,
): Promise<RunResult> {
  const log = opts.log ?? new Logger();
  const hash = recipeHash(recipe);
  const hasState = await runDir.hasState();
  if (hasState && !opts.resume) {
    throw new Error(`${runDir.root} already holds a run; pass --resume to continue it, or choose another --run-dir`);
  }
  let state = await runDir.loadState();
  if (hasState) {
    const prev = await runDir.readMeta<{ hash: string }>();
    if (prev && prev.hash !== hash) {
      throw new Error(
        `cannot resume ${runDir.root}: its recipe differs from this one (hash ${prev.hash} vs ${hash}); see recipe.resolved.yaml there`,
      );
    }
    // checkpoint folders a kill left mid-swap: restore the newest complete copy, drop the rest
    await recoverTree(runDir.root);
    log.info(`resuming ${runDir.root}: ${state.done.length} stage(s) already done`);
  } else {
    const meta = {
      agent0: opts.version ?? 'unknown',
      seed: recipe.seed,
      gitCommit: await gitCommit(),
      plugins: Object.fromEntries(registry.pluginMetas().map((m) => [m.name, m.version])),
      createdAt: new Date().toISOString(),
      hash,
    };
    await runDir.writeResolvedRecipe(
      `# resolved by agent0 ${meta.agent0}; extends, --set and defaults applied\n${stringify({ _meta: meta, ...recipe })}`,
    );
    await runDir.writeMeta(meta);
    await runDir.saveState(state);
  }

  const session = new RunSession(recipe, registry, {
    runDir,
    log,
    progress: opts.progress,
    signal: opts.signal,
    checkpoints: state.checkpoints,
  });
  const executed: string[] = [];
  const skipped: string[] = [];
  try {
    await session.attachSinks();
    const steps = plan(recipe);
    for (const [idx, ex] of steps.entries()) {
      if (state.done.includes(ex.key)) {
        skipped.push(ex.key);
        continue;
      }
      opts.signal?.throwIfAborted();
      log.info(`── stage ${idx + 1}/${steps.length}: ${ex.key} (${ex.stage.use})`);
      const started = Date.now();
      state = { ...state, running: { key: ex.key, metricsBytes: await rewindMetrics(runDir, ex.key, state) } };
      await runDir.saveState(state);
      const ctx = await stageContext(
        session,
        runDir,
        ex,
        () => state,
        async (s) => {
          state = s;
          await runDir.saveState(s);
        },
      );
      const def = registry.get(ex.stage.use).def;
      const stage = (await def.create(structuredClone(ex.stage.options), ctx)) as PipelineStage;
      const result = await stage.run(ctx);
      state = {
        ...state,
        done: [...state.done, ex.key],
        summaries: {
          ...state.summaries,
          [ex.key]: { ...(result?.summary ?? {}), seconds: Math.round((Date.now() - started) / 100) / 10 },
        },
      };
      await runDir.saveState(state);
      executed.push(ex.key);
      log.info(`   ${ex.key} done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    }
  } finally {
    await session.close();
  }
  return { runDir: runDir.root, executed, skipped, summaries: state.summaries };
}

/**
 * Before a stage execution (re)starts: drops the metric rows its interrupted attempt logged after
 * its last saved state (or after it started), which it is about to log again. Returns the length kept.
 */
async function rewindMetrics(runDir: RunDir, key: string, state: RunState): Promise<number> {
  const saved = await runDir.readStageState<Partial<StageStateFile>>(key);
  const mark =
    typeof saved?.$metricsBytes === 'number'
      ? saved.$metricsBytes
      : state.running?.key === key
        ? state.running.metricsBytes
        : undefined;
  if (mark !== undefined) await runDir.truncateMetrics(mark);
  return runDir.metricsBytes();
}

async function stageContext(
  session: RunSession,
  runDir: RunDir,
  ex: Execution,
  getState: () => RunState,
  setState: (s: RunState) => Promise<void>,
): Promise<StageContext> {
  const dir = await runDir.ensure(stageDir(ex.key));
  const base = session.makeContext(ex.stage.name);
  return {
    ...base,
    iteration: ex.iteration,
    key: ex.key,
    dir,
    artifacts: runDir.stageArtifacts(ex.key),
    artifactsOf: (stageName: string, iteration = ex.iteration) => runDir.artifacts(stageName, iteration),
    outputDir: (stageName: string, iteration = ex.iteration) => runDir.artifacts(stageName, iteration).dir,
    async loadState<T>() {
      const raw = await runDir.readStageState<StageStateFile<T> | T>(ex.key);
      return raw !== null && typeof raw === 'object' && '$state' in raw ? raw.$state : raw;
    },
    // metric rows are logged before the state that covers them is saved, so this length holds them
    saveState: async <T>(s: T) =>
      runDir.writeStageState(ex.key, {
        $state: s,
        $metricsBytes: await runDir.metricsBytes(),
      } satisfies StageStateFile<T>),
    async commitCheckpoint(name: string, ckptDir: string) {
      await setState(recordCheckpoint(getState(), runDir, name, ckptDir));
    },
  };
}
