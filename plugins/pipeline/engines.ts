import type { Policy, RolloutEngine, StageContext } from '../../core/index.js';

/** The engine that generates for a policy: a recipe-named remote engine, else the policy itself. */
export async function engineFor(ctx: StageContext, policy: Policy, engineName: string | null): Promise<RolloutEngine> {
  return engineName ? ctx.get(engineName, 'rollout') : policy;
}

/** After a policy checkpoint is written, a remote engine reloads it so its rollouts stay on-policy. */
export async function syncEngine(
  ctx: StageContext,
  engine: RolloutEngine,
  policy: Policy,
  checkpointDir: string,
): Promise<void> {
  if (engine === policy) return;
  if (!engine.loadWeights) {
    ctx.log.warn(
      'the rollout engine cannot load new weights: its rollouts now come from an older policy than the one being trained',
    );
    return;
  }
  await engine.loadWeights(checkpointDir);
}
