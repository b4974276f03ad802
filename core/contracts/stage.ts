import type { ComponentContext } from './component.js';
import type { StageArtifacts } from '../run/artifacts.js';

/** Everything a pipeline stage sees: the run's components plus its own folder and resumable state. */
export interface StageContext extends ComponentContext {
  /** 1-based co-evolution iteration; 0 for setup stages, -1 for teardown stages. */
  readonly iteration: number;
  /** Unique id of this execution, e.g. 'iter-2/curate'. */
  readonly key: string;
  /**
   * This execution's files by name, written atomically (`ctx.artifacts.writeJsonl('tasks.jsonl', rows)`);
   * `artifacts.path(name)` for writers that take a path. Where they live is core/run/layout.ts's business.
   */
  readonly artifacts: StageArtifacts;
  /** Another stage execution's files, by stage name (default: this iteration). */
  artifactsOf(stageName: string, iteration?: number): StageArtifacts;
  /** This execution's output folder (created), e.g. `<run>/iter-2/curate`; prefer `artifacts`. */
  readonly dir: string;
  /** Output folder of another stage execution (by stage name, default: same iteration); prefer `artifactsOf`. */
  outputDir(stageName: string, iteration?: number): string;
  /** Small resumable state of this stage (step counters); saved atomically. */
  loadState<T>(): Promise<T | undefined>;
  saveState<T>(state: T): Promise<void>;
  /**
   * Records that component `name` (a Policy or other checkpointable) now lives at `dir`,
   * so a resumed run loads it from there before any later stage uses it. `commitSaved`
   * (core/run/checkpoints.ts) writes the folder where the layout puts it and calls this.
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
