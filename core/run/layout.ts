import path from 'node:path';

/**
 * The run folder's layout: every name and the structure under `runs/<name>/`. This is the only
 * module that spells them; the pipeline, the session and RunDir ask it, and stages reach their
 * files through `StageContext.artifacts` and the checkpoint protocol (`./checkpoints.ts`).
 * Renaming anything here breaks `--resume` of runs written before.
 *
 * ```
 * runs/<name>/
 *   recipe.resolved.yaml  run.json  state.json  metrics.jsonl  run.lock
 *   setup/<stage>/  iter-<i>/<stage>/  final/<stage>/     one folder per stage execution:
 *       stage-state.json                                    the stage's resumable state
 *       checkpoint-<step>/                                  its step checkpoints
 *       <artifacts>                                         whatever the stage writes
 *   checkpoints/<section>-<stage>/<component>/              committed checkpoints
 * ```
 */
export const RUN_FILES = {
  /** The recipe as run: extends, --set and defaults applied, with provenance. */
  recipe: 'recipe.resolved.yaml',
  /** Provenance and the recipe hash a resume must match. */
  meta: 'run.json',
  /** Finished stages, committed checkpoints, summaries (RunState). */
  state: 'state.json',
  metrics: 'metrics.jsonl',
  /** Held while a process runs the folder (core/run/lock.ts). */
  lock: 'run.lock',
} as const;

const STAGE_STATE = 'stage-state.json';
const STEP_CHECKPOINT = 'checkpoint';
const COMMITTED = 'checkpoints';
const SETUP = 'setup';
const FINAL = 'final';
const ITER = 'iter-';

/** The iteration number of setup stages; loop iterations count from 1. */
export const SETUP_ITERATION = 0;
/** The iteration number of teardown stages. */
export const TEARDOWN_ITERATION = -1;

/** Key of a stage execution, which is also its folder: 'setup/<stage>', 'iter-<i>/<stage>' or 'final/<stage>'. */
export function stageKey(stage: string, iteration: number): string {
  const section =
    iteration === SETUP_ITERATION ? SETUP : iteration === TEARDOWN_ITERATION ? FINAL : `${ITER}${iteration}`;
  return `${section}/${stage}`;
}

/** The stage and iteration a key names; undefined for anything else. */
export function parseStageKey(key: string): { stage: string; iteration: number } | undefined {
  const slash = key.indexOf('/');
  if (slash < 0) return undefined;
  const section = key.slice(0, slash);
  const stage = key.slice(slash + 1);
  if (section === SETUP) return { stage, iteration: SETUP_ITERATION };
  if (section === FINAL) return { stage, iteration: TEARDOWN_ITERATION };
  if (section.startsWith(ITER) && /^\d+$/.test(section.slice(ITER.length)))
    return { stage, iteration: Number(section.slice(ITER.length)) };
  return undefined;
}

/** A stage execution's folder, relative to the run folder. */
export function stageDir(key: string): string {
  return key.replace('/', path.sep);
}

/** A file (or folder) of a stage execution, relative to the run folder. */
export function stageFile(key: string, name: string): string {
  return path.join(stageDir(key), name);
}

/** The stage's own resumable state (StageStateFile), relative to the run folder. */
export function stageStateFile(key: string): string {
  return stageFile(key, STAGE_STATE);
}

/** Base of a stage's step checkpoints (`<base>-<step>`, see `stepDir`), inside its folder. */
export function stepCheckpointBase(stageFolder: string): string {
  return path.join(stageFolder, STEP_CHECKPOINT);
}

/** Where a stage commits component `component`'s checkpoint, relative to the run folder. */
export function committedCheckpointDir(key: string, component: string): string {
  return path.join(COMMITTED, key.replace('/', '-'), component);
}

/**
 * Where output goes when no folder is given (relative to the working directory): a recipe's run
 * folder `runs/<recipe name>`, or a command's (`runs/eval/<benchmark>`, `runs/ablation`).
 */
export function defaultRunDir(...names: string[]): string {
  return path.join('runs', ...names);
}
