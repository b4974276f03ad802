import { promises as fs } from 'node:fs';
import path from 'node:path';
import { appendLines, readJson, readJsonl, readTextIfExists, writeAtomic, writeJsonAtomic } from '../util/atomic.js';
import { StageArtifacts } from './artifacts.js';
import { RUN_FILES, stageKey, stageStateFile } from './layout.js';

export interface RunState {
  /** Stage executions finished, by key ('setup/bootstrap', 'iter-1/curate', ...), in order. */
  done: string[];
  /** Latest committed checkpoint folder (relative to the run dir) per component instance. */
  checkpoints: Record<string, string>;
  /** Summaries returned by stages, by key. */
  summaries: Record<string, Record<string, number | string>>;
  /** The stage execution started last and the length of metrics.jsonl when it started. */
  running?: { key: string; metricsBytes: number };
}

/** The metrics file every run writes (MetricsFanout). */
export const METRICS_FILE = RUN_FILES.metrics;

/**
 * `stage-state.json` as the pipeline writes it: the stage's own state plus the length of
 * metrics.jsonl at that moment, in one atomic file, so a resumed stage drops exactly the metric
 * rows it is about to log again. (A file without `$state` is a stage's bare state, as older runs wrote it.)
 */
export interface StageStateFile<T = unknown> {
  $state: T;
  $metricsBytes: number;
}

/**
 * A run's folder. Every write is atomic; `state.json` records what is finished so `--resume` skips
 * it. Names and structure come from `./layout.ts`; the generic `path`/`writeText`/... take paths
 * relative to the folder, for run-level outputs such as a report.
 */
export class RunDir {
  constructor(readonly root: string) {}

  path(...parts: string[]): string {
    return path.join(this.root, ...parts);
  }

  async ensure(...parts: string[]): Promise<string> {
    const p = this.path(...parts);
    await fs.mkdir(p, { recursive: true });
    return p;
  }

  async writeText(rel: string, text: string): Promise<void> {
    await writeAtomic(this.path(rel), text);
  }

  async writeJson(rel: string, value: unknown): Promise<void> {
    await writeJsonAtomic(this.path(rel), value);
  }

  async readJson<T>(rel: string): Promise<T | undefined> {
    return readJson<T>(this.path(rel));
  }

  async appendJsonl(rel: string, rows: unknown[]): Promise<void> {
    await appendLines(
      this.path(rel),
      rows.map((r) => JSON.stringify(r)),
    );
  }

  async readJsonl<T>(rel: string): Promise<T[]> {
    return readJsonl<T>(this.path(rel));
  }

  async exists(rel: string): Promise<boolean> {
    try {
      await fs.access(this.path(rel));
      return true;
    } catch {
      return false;
    }
  }

  /** The files of a stage execution (by stage name and iteration, see `stageKey`). */
  artifacts(stage: string, iteration: number): StageArtifacts {
    return this.stageArtifacts(stageKey(stage, iteration));
  }

  /** The files of the stage execution with this key ('iter-2/curate'). */
  stageArtifacts(key: string): StageArtifacts {
    return new StageArtifacts(this, key);
  }

  async readStageState<T>(key: string): Promise<T | undefined> {
    return this.readJson<T>(stageStateFile(key));
  }

  async writeStageState(key: string, value: unknown): Promise<void> {
    await this.writeJson(stageStateFile(key), value);
  }

  /** The resolved recipe's text (undefined when the folder has none). */
  async readResolvedRecipe(): Promise<string | undefined> {
    return readTextIfExists(this.path(RUN_FILES.recipe));
  }

  async writeResolvedRecipe(text: string): Promise<void> {
    await this.writeText(RUN_FILES.recipe, text);
  }

  async readMeta<T>(): Promise<T | undefined> {
    return this.readJson<T>(RUN_FILES.meta);
  }

  async writeMeta(meta: unknown): Promise<void> {
    await this.writeJson(RUN_FILES.meta, meta);
  }

  async appendMetrics(rows: unknown[]): Promise<void> {
    await this.appendJsonl(RUN_FILES.metrics, rows);
  }

  async readMetrics<T>(): Promise<T[]> {
    return this.readJsonl<T>(RUN_FILES.metrics);
  }

  /** Bytes in metrics.jsonl (0 when absent). */
  async metricsBytes(): Promise<number> {
    return fs.stat(this.path(METRICS_FILE)).then(
      (st) => st.size,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return 0;
        throw e;
      },
    );
  }

  /** Cuts metrics.jsonl back to `bytes` (the rows a re-run stage logs again). */
  async truncateMetrics(bytes: number): Promise<void> {
    if ((await this.metricsBytes()) > bytes) await fs.truncate(this.path(METRICS_FILE), bytes);
  }

  /** Whether the folder holds a run (its state file). */
  async hasState(): Promise<boolean> {
    return this.exists(RUN_FILES.state);
  }

  async loadState(): Promise<RunState> {
    return (await this.readJson<RunState>(RUN_FILES.state)) ?? { done: [], checkpoints: {}, summaries: {} };
  }

  async saveState(state: RunState): Promise<void> {
    await this.writeJson(RUN_FILES.state, state);
  }
}
