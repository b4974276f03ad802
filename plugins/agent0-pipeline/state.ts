import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pruneStepDirs, recoverDir, replaceDirAtomic, stepDir, type Policy, type StageContext } from '../../core/index.js';

export interface StepState {
  /** Steps finished and saved. */
  step: number;
}

function stepBase(ctx: StageContext): string {
  return path.join(ctx.dir, 'checkpoint');
}

/** The stage's step checkpoint after `step` steps: `<stage dir>/checkpoint-<step>`. */
export function stepCheckpoint(ctx: StageContext, step: number): string {
  return stepDir(stepBase(ctx), step);
}

/**
 * Resumable step loop: after each `every` steps the policy is saved to the stage's folder and the
 * step count recorded, so a killed stage restarts from its last save with the same RNG streams.
 */
export async function resumeSteps(ctx: StageContext, policy: Policy, label: string): Promise<number> {
  const st = await ctx.loadState<StepState>();
  if (!st || st.step === 0) return 0;
  let dir = stepCheckpoint(ctx, st.step);
  if (!(await recoverDir(dir))) {
    // runs from before step-numbered checkpoints kept one `checkpoint/` folder
    const legacy = stepBase(ctx);
    if (!(await fs.stat(legacy).then((s) => s.isDirectory(), () => false))) {
      throw new Error(`${label}: the saved state is at step ${st.step} but its checkpoint ${path.relative(ctx.runDir.root, dir)} is missing`);
    }
    dir = legacy;
  }
  ctx.log.info(`${label}: resuming at step ${st.step} from ${path.relative(ctx.runDir.root, dir)}`);
  await policy.load(dir);
  if (dir !== stepBase(ctx)) await pruneStepDirs(stepBase(ctx), st.step);
  return st.step;
}

/**
 * Saves the policy as the checkpoint of `step` (a new folder, committed as a unit), then records
 * the step: a crash between the two leaves the state naming the previous checkpoint, which is
 * removed only afterwards. Returns the new checkpoint's folder.
 */
export async function saveStep(ctx: StageContext, policy: Policy, step: number): Promise<string> {
  const dir = stepCheckpoint(ctx, step);
  await replaceDirAtomic(dir, (tmp) => policy.save(tmp));
  await ctx.saveState<StepState>({ step });
  await pruneStepDirs(stepBase(ctx), step);
  return dir;
}

/** Saves a trained policy (as a unit) as the run's current checkpoint of that instance. */
export async function commitPolicy(ctx: StageContext, name: string, policy: Policy): Promise<string> {
  const dir = ctx.runDir.path('checkpoints', ctx.key.replace('/', '-'), name);
  await replaceDirAtomic(dir, (tmp) => policy.save(tmp));
  await ctx.commitCheckpoint(name, dir);
  return dir;
}
