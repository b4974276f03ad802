import path from 'node:path';
import { defineComponent, definePlugin, type OptionsOf, type Task, type TaskSource } from '../../core/index.js';
import { ANSWER_FIELDS, referenceAnswer, pickField, PROBLEM_FIELDS, readRows } from './read.js';

const fileSourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['splits'],
  properties: {
    splits: {
      type: 'object',
      additionalProperties: { type: 'string' },
      minProperties: 1,
      description: 'split name → file path',
    },
    baseDir: {
      type: ['string', 'null'],
      default: null,
      description: 'folder that relative paths start from (default: the working directory)',
    },
    problemField: {
      type: ['string', 'null'],
      default: null,
      description: `default: first of ${PROBLEM_FIELDS.join(', ')}`,
    },
    answerField: {
      type: ['string', 'null'],
      default: null,
      description: `default: first of ${ANSWER_FIELDS.join(', ')}`,
    },
    idField: { type: ['string', 'null'], default: null },
  },
} as const;

type FileSourceOptions = OptionsOf<typeof fileSourceSchema>;

/** Benchmark files (JSONL, JSON or Parquet) in the usual MATH-500 / GSM8K / AIME shapes, one file per split. */
export class FileTaskSource implements TaskSource {
  private readonly cache = new Map<string, Task[]>();
  constructor(private readonly o: FileSourceOptions) {}
  splits(): string[] {
    return Object.keys(this.o.splits);
  }
  async load(split: string, opts: { limit?: number; seed?: number } = {}): Promise<Task[]> {
    const file = this.o.splits[split];
    if (!file) throw new Error(`no split '${split}' (have: ${this.splits().join(', ')})`);
    let tasks = this.cache.get(split);
    if (!tasks) {
      const abs = path.resolve(this.o.baseDir ?? process.cwd(), file);
      const rows = await readRows(abs);
      tasks = rows.map((row, i) => {
        const pf = pickField(row, this.o.problemField, PROBLEM_FIELDS);
        const af = pickField(row, this.o.answerField, ANSWER_FIELDS);
        if (!pf)
          throw new Error(
            `${file} row ${i + 1}: no problem field (looked for ${this.o.problemField ?? PROBLEM_FIELDS.join(', ')})`,
          );
        const answer = af ? referenceAnswer(row[af]) : undefined;
        const id =
          this.o.idField && row[this.o.idField] !== undefined
            ? String(row[this.o.idField])
            : String(row.unique_id ?? row.id ?? `${split}-${i}`);
        return {
          id,
          problem: String(row[pf]),
          ...(answer !== undefined ? { answer } : {}),
          meta: { source: file },
        } satisfies Task;
      });
      this.cache.set(split, tasks);
    }
    return opts.limit ? tasks.slice(0, opts.limit) : tasks;
  }
}

export const fileTaskSource = defineComponent({
  kind: 'task-source',
  name: 'files',
  description: 'benchmark files (JSONL / JSON / Parquet; MATH-500, GSM8K, AIME shapes), one per split',
  options: fileSourceSchema,
  create: (o) => new FileTaskSource(o),
});

export default definePlugin({
  meta: { name: 'agent0/benchmarks', version: '0.1.0', description: 'benchmark task sources from local files' },
  components: [fileTaskSource],
});
