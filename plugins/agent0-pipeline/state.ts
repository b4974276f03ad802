import path from 'node:path';
import type { Policy, StageContext } from '../../core/index.js';

export interface StepState {
  /** Steps finished and saved. */
  step: number;
}

/**
 * Resumable step loop: after each `every` steps the policy is saved to the stage's folder and the
 * step count recorded, so a killed stage restarts from its last save with the same RNG streams.
 */
export async function resumeSteps(ctx: StageContext, policy: Policy, label: string): Promise<number> {
  const st = await ctx.loadState<StepState>();
  if (!st || st.step === 0) return 0;
  ctx.log.info(`${label}: resuming at step ${st.step} from ${path.relative(ctx.runDir.root, stepCheckpoint(ctx))}`);
  await policy.load(stepCheckpoint(ctx));
  return st.step;
}

export function stepCheckpoint(ctx: StageContext): string {
  return path.join(ctx.dir, 'checkpoint');
}

export async function saveStep(ctx: StageContext, policy: Policy, step: number): Promise<void> {
  // save first, then record: a crash between the two leaves the previous consistent pair
  await policy.save(stepCheckpoint(ctx));
  await ctx.saveState<StepState>({ step });
}

/** Saves a trained policy as the run's current checkpoint of that instance. */
export async function commitPolicy(ctx: StageContext, name: string, policy: Policy): Promise<string> {
  const dir = ctx.runDir.path('checkpoints', ctx.key.replace('/', '-'), name);
  await policy.save(dir);
  await ctx.commitCheckpoint(name, dir);
  return dir;
}
