import type { ComponentContext } from './component.js';

/** Everything a pipeline stage sees: the run's components plus its own folder and resumable state. */
export interface StageContext extends ComponentContext {
  /** 1-based co-evolution iteration; 0 for setup stages, -1 for teardown stages. */
  readonly iteration: number;
  /** Unique id of this execution, e.g. 'iter-2/curate'. */
  readonly key: string;
  /** This execution's output folder (created), e.g. `<run>/iter-2/curate`. */
  readonly dir: string;
  /** Output folder of another stage execution (by stage name, default: same iteration). */
  outputDir(stageName: string, iteration?: number): string;
  /** Small resumable state of this stage (step counters); saved atomically. */
  loadState<T>(): Promise<T | undefined>;
  saveState<T>(state: T): Promise<void>;
  /**
   * Records that component `name` (a Policy or other checkpointable) now lives at `dir`,
   * so a resumed run loads it from there before any later stage uses it.
   */
  commitCheckpoint(name: string, dir: string): Promise<void>;
}

export interface StageResult {
  /** Numbers for the report (e.g. accuracy, kept tasks). */
  summary?: Record<string, number | string>;
}

export interface PipelineStage {
  run(ctx: StageContext): Promise<StageResult | void>;
}
