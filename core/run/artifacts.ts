import { stageDir, stageFile } from './layout.js';
import type { RunDir } from './run-dir.js';

/**
 * One stage execution's files, by name (`questions.jsonl`, a `model` folder): where they live is
 * the layout's business (`<run>/iter-2/curate/...`). Every write is atomic.
 */
export class StageArtifacts {
  constructor(
    private readonly runDir: RunDir,
    readonly key: string,
  ) {}

  /** The execution's folder (absolute). */
  get dir(): string {
    return this.runDir.path(stageDir(this.key));
  }

  /** Absolute path of an artifact, for writers that take a path (`policy.save(dir)`). */
  path(name: string): string {
    return this.runDir.path(stageFile(this.key, name));
  }

  async exists(name: string): Promise<boolean> {
    return this.runDir.exists(stageFile(this.key, name));
  }

  async writeText(name: string, text: string): Promise<void> {
    await this.runDir.writeText(stageFile(this.key, name), text);
  }

  async writeJson(name: string, value: unknown): Promise<void> {
    await this.runDir.writeJson(stageFile(this.key, name), value);
  }

  /** Writes the whole file: one JSON line per row (an empty file for no rows). */
  async writeJsonl(name: string, rows: readonly unknown[]): Promise<void> {
    await this.writeText(name, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
  }

  /** Parsed JSON, or undefined when the file does not exist. */
  async readJson<T>(name: string): Promise<T | undefined> {
    return this.runDir.readJson<T>(stageFile(this.key, name));
  }

  /** Rows of a JSONL file ([] when it does not exist; a torn last line is skipped). */
  async readJsonl<T>(name: string): Promise<T[]> {
    return this.runDir.readJsonl<T>(stageFile(this.key, name));
  }
}
