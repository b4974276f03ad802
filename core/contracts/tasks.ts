import type { SampleFields } from './fields.js';

export interface Task {
  id: string;
  /** The problem statement as the model sees it (before any chat template). */
  problem: string;
  /** Reference answer or pseudo-label; absent for unlabeled problems. */
  answer?: string;
  /** The true answer when known but hidden from training (embedded world, for reporting only). */
  trueAnswer?: string;
  fields?: SampleFields;
  meta?: Record<string, unknown>;
}

/** Where problems come from: generated worlds, JSONL / Parquet benchmark files, curated stage outputs. */
export interface TaskSource {
  /** Named splits this source offers (e.g. 'train', 'easy', 'hard'). */
  splits(): string[];
  load(split: string, opts?: { limit?: number; seed?: number }): Promise<Task[]>;
  /**
   * Optional: measures of a problem text's difficulty (e.g. digits, operations), so reports can
   * show how hard generated questions are. Undefined when the text is not of this world.
   */
  difficulty?(problem: string): Record<string, number> | undefined;
  /** Optional: the true answer of a problem text, for reporting pseudo-label accuracy only. */
  solve?(problem: string): string | undefined;
}
