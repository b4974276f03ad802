import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { StageContext } from '../contracts/stage.js';
import { pruneStepDirs, recoverDir, replaceDirAtomic, stepDir } from '../util/dirs.js';
import type { Logger } from '../util/logger.js';
import { committedCheckpointDir, stepCheckpointBase } from './layout.js';
import type { RunDir, RunState } from './run-dir.js';

/**
 * The checkpoint protocol of a run, in one place:
 * - a stage's step checkpoints (`saveStepCheckpoint`, `resumeFromStep`, `dropStepCheckpoints`):
 *   the stage state names the step to resume from, so weights, optimizer and step count belong together;
 * - committed checkpoints (`commitSaved`, `recordCheckpoint`, `loadCommitted`): the folder a
 *   component is reloaded from when a resumed run builds it;
 * - a policy that starts from a saved folder (`agent0 eval`, `agent0 serve`): the folder goes into the
 *   policy's `checkpoint` option (`checkpointOption`, `checkpointSet`), which every engine reads at creation.
 * Every folder is written as a unit (`replaceDirAtomic`) and restored after a kill (`recoverDir`).
 */

/** What the protocol needs of a stage's context (a StageContext has all of it). */
export type CheckpointHost = Pick<
  StageContext,
  'key' | 'dir' | 'runDir' | 'log' | 'loadState' | 'saveState' | 'commitCheckpoint'
>;

/** The stage's step checkpoint after `step` steps: `<stage folder>/checkpoint-<step>`. */
export function stepCheckpointDir(ctx: Pick<CheckpointHost, 'dir'>, step: number): string {
  return stepDir(stepCheckpointBase(ctx.dir), step);
}

/**
 * Loads the step checkpoint the stage state names (`step`) through `load`, restoring a copy an
 * interrupted swap left, then removes the stage's other step checkpoints (those a crash left after
 * their save but before the state named them). Runs from before step-numbered checkpoints kept one
 * `checkpoint/` folder, which is loaded when the numbered one is missing.
 */
export async function resumeFromStep(
  ctx: CheckpointHost,
  step: number,
  load: (dir: string) => Promise<void>,
  label: string,
): Promise<void> {
  const base = stepCheckpointBase(ctx.dir);
  let dir = stepDir(base, step);
  if (!(await recoverDir(dir))) {
    if (
      !(await fs.stat(base).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    ) {
      throw new Error(
        `${label}: the saved state is at step ${step} but its checkpoint ${path.relative(ctx.runDir.root, dir)} is missing`,
      );
    }
    dir = base;
  }
  ctx.log.info(`${label}: resuming at step ${step} from ${path.relative(ctx.runDir.root, dir)}`);
  await load(dir);
  if (dir !== base) await pruneStepDirs(base, step);
}

/**
 * Saves the checkpoint of `step` (a new folder that `save` fills, committed as a unit), then the
 * stage state: a crash between the two leaves the state naming the previous checkpoint, which is
 * removed only afterwards. Returns the new checkpoint's folder.
 */
export async function saveStepCheckpoint<S>(
  ctx: CheckpointHost,
  step: number,
  save: (dir: string) => Promise<void>,
  state: S,
): Promise<string> {
  const dir = stepCheckpointDir(ctx, step);
  await replaceDirAtomic(dir, save);
  await ctx.saveState<S>(state);
  await pruneStepDirs(stepCheckpointBase(ctx.dir), step);
  return dir;
}

/** Removes every step checkpoint of the stage (once its result is committed elsewhere). */
export async function dropStepCheckpoints(ctx: Pick<CheckpointHost, 'dir'>): Promise<void> {
  await pruneStepDirs(stepCheckpointBase(ctx.dir));
}

/**
 * Saves component `name` (a folder that `save` fills, written as a unit) as the run's committed
 * checkpoint of it, which a resumed run loads before any later stage uses it. Returns the folder.
 */
export async function commitSaved(
  ctx: CheckpointHost,
  name: string,
  save: (dir: string) => Promise<void>,
): Promise<string> {
  const dir = ctx.runDir.path(committedCheckpointDir(ctx.key, name));
  await replaceDirAtomic(dir, save);
  await ctx.commitCheckpoint(name, dir);
  return dir;
}

/** The run state with component `name`'s committed checkpoint at `dir` (stored relative to the run folder). */
export function recordCheckpoint(state: RunState, runDir: RunDir, name: string, dir: string): RunState {
  const rel = path.relative(runDir.root, path.resolve(dir));
  return { ...state, checkpoints: { ...state.checkpoints, [name]: rel } };
}

/** Loads the committed checkpoint `rel` (as the run state records it) into a newly built component. */
export async function loadCommitted(
  runDir: RunDir,
  name: string,
  rel: string,
  instance: unknown,
  log: Logger,
): Promise<void> {
  const target = instance as Partial<{ load(dir: string): Promise<void> }>;
  if (typeof target.load !== 'function') throw new Error(`component '${name}' has a checkpoint but no load()`);
  log.info(`loading ${name} from ${rel}`);
  const dir = runDir.path(rel);
  // a kill mid-swap leaves complete copies beside a missing folder: restore the newest
  if (!(await recoverDir(dir))) throw new Error(`component '${name}': its committed checkpoint ${dir} is missing`);
  await target.load(dir);
}

/**
 * The option of a policy component that names the folder it starts from (weights and tokenizer,
 * any shape the engine reads; null: random init). `load(dir)` instead continues a built policy
 * from a folder of its own shape, as resumed runs do.
 */
export const CHECKPOINT_OPTION = 'checkpoint';

/** Options that start a policy from `dir` (resolved against `cwd`). */
export function checkpointOption(dir: string, cwd = process.cwd()): Record<typeof CHECKPOINT_OPTION, string> {
  return { [CHECKPOINT_OPTION]: path.resolve(cwd, dir) };
}

/** A `--set` that starts the recipe's policy instance `instance` from `dir` (resolved against `cwd`). */
export function checkpointSet(instance: string, dir: string, cwd = process.cwd()): string {
  return `components.${instance}.options.${CHECKPOINT_OPTION}=${JSON.stringify(path.resolve(cwd, dir))}`;
}
