import type { SampleFields } from './fields.js';
import type { Trajectory } from './rollout.js';
import type { Task } from './tasks.js';

export interface RewardSample {
  /** The model's response text (observations included for tool trajectories). */
  response: string;
  task: Task;
  trajectory?: Trajectory;
  fields?: SampleFields;
  /** Stage-provided evidence (e.g. the executor's answers to a proposed question). */
  extra?: Record<string, unknown>;
}

export interface RewardResult {
  /** null drops the sample from training. */
  reward: number | null;
  /** Components of the reward for metrics (e.g. uncertainty, tool, repetition). */
  parts?: Record<string, number>;
}

/** Scores a whole batch at once (the curriculum reward's repetition penalty needs every sample). */
export interface RewardFunction {
  score(batch: RewardSample[]): Promise<RewardResult[]>;
}
