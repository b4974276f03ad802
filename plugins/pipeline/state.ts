import { commitSaved, resumeFromStep, saveStepCheckpoint, type CheckpointHost, type Policy } from '../../core/index.js';

export interface StepState {
  /** Steps finished and saved. */
  step: number;
}

/**
 * Resumable step loop: after each `every` steps the policy is saved to the stage's folder and the
 * step count recorded, so a killed stage restarts from its last save with the same RNG streams.
 */
export async function resumeSteps(ctx: CheckpointHost, policy: Policy, label: string): Promise<number> {
  const st = await ctx.loadState<StepState>();
  if (!st || st.step === 0) return 0;
  await resumeFromStep(ctx, st.step, (dir) => policy.load(dir), label);
  return st.step;
}

/** Saves the policy as the step checkpoint of `step`, then records the step. Returns the checkpoint's folder. */
export async function saveStep(ctx: CheckpointHost, policy: Policy, step: number): Promise<string> {
  return saveStepCheckpoint<StepState>(ctx, step, (tmp) => policy.save(tmp), { step });
}

/** Saves a trained policy (as a unit) as the run's current checkpoint of that instance. */
export async function commitPolicy(ctx: CheckpointHost, name: string, policy: Policy): Promise<string> {
  return commitSaved(ctx, name, (tmp) => policy.save(tmp));
}
