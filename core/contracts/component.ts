import type { Logger } from '../util/logger.js';
import type { Rng } from '../util/rng.js';
import type { RunDir } from '../run/run-dir.js';
import type { MetricsSink } from './metrics.js';
import type { ProgressFactory } from '../util/progress.js';
import type { ComponentKind } from './kinds.js';
import type { Policy, RolloutEngine } from './policy.js';
import type { AgentLoop } from './rollout.js';
import type { Tool } from './tool.js';
import type { Verifier } from './verifier.js';
import type { RewardFunction } from './reward.js';
import type { AdvantageEstimator, KlPenalty, LossAggregator, PolicyLoss } from './algorithms.js';
import type { TaskSource } from './tasks.js';
import type { PipelineStage } from './stage.js';

/** Maps each component kind to the interface its instances implement. */
export interface ComponentTypes {
  policy: Policy;
  rollout: RolloutEngine;
  'agent-loop': AgentLoop;
  tool: Tool;
  verifier: Verifier;
  reward: RewardFunction;
  advantage: AdvantageEstimator;
  'policy-loss': PolicyLoss;
  kl: KlPenalty;
  'loss-agg': LossAggregator;
  'task-source': TaskSource;
  'metrics-sink': MetricsSink;
  stage: PipelineStage;
}

/** What a component factory receives besides its validated options. One per run. */
export interface ComponentContext {
  /** Name of the instance being built (its key under `components:`), or the stage name. */
  readonly name: string;
  readonly runDir: RunDir;
  /** Seeded RNG derived from the run seed and the instance name (stable across runs). */
  readonly rng: Rng;
  readonly seed: number;
  readonly log: Logger;
  readonly metrics: MetricsSink;
  readonly progress: ProgressFactory;
  readonly signal: AbortSignal;
  /**
   * Another named instance of this run (built once, on first use). With `kind`, the instance
   * must be of that kind or this throws with the recipe path to fix.
   */
  get<K extends ComponentKind>(name: string, kind: K): Promise<ComponentTypes[K]>;
  get<T = unknown>(name: string): Promise<T>;
  /** True when the recipe defines an instance with this name. */
  has(name: string): boolean;
}
