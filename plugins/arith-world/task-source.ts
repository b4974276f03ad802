import { defineComponent, type Task, type TaskSource } from '../../core/index.js';
import { DEFAULT_SPLITS, type SplitSpec, generateSplit, problemToTask, splitSchema } from './splits.js';
import type { Problem } from './generate.js';
import { measureDifficulty } from './difficulty.js';
import { tryEvaluate } from './expr.js';

/** Generated integer-arithmetic splits; each split is fixed by its own seed (not the run seed). */
export class ArithTaskSource implements TaskSource {
  private readonly cache = new Map<string, Problem[]>();
  constructor(private readonly specs: Record<string, SplitSpec>) {}

  splits(): string[] {
    return Object.keys(this.specs);
  }

  spec(split: string): SplitSpec {
    const s = this.specs[split];
    if (!s) throw new Error(`task-source/arith has no split '${split}'; splits: ${this.splits().join(', ')}`);
    return s;
  }

  /** The split's problems (with exact answers), generated once. */
  problems(split: string, seed?: number): Problem[] {
    const spec = this.spec(split);
    const key = `${split}@${seed ?? spec.seed}`;
    let ps = this.cache.get(key);
    if (!ps) {
      const exclude = new Set<string>();
      for (const other of spec.excludes ?? []) {
        if (other === split) continue;
        for (const p of this.problems(other)) exclude.add(p.text);
      }
      ps = generateSplit(spec, seed ?? spec.seed, exclude);
      this.cache.set(key, ps);
    }
    return ps;
  }

  /** Digits, operations and a scalar score of a problem text; undefined for texts that are not arithmetic. */
  difficulty(problem: string): Record<string, number> | undefined {
    const d = measureDifficulty(problem);
    if (!d.parsed) return undefined;
    return { ops: d.ops, maxDigits: d.maxDigits, answerDigits: d.answerDigits, score: d.score };
  }

  /** The exact value of an arithmetic problem text (reporting only: it never reaches training). */
  solve(problem: string): string | undefined {
    return tryEvaluate(problem)?.toString();
  }

  async load(split: string, opts: { limit?: number; seed?: number } = {}): Promise<Task[]> {
    const ps = this.problems(split, opts.seed);
    const n = Math.min(ps.length, opts.limit ?? ps.length);
    const tag = opts.seed === undefined ? split : `${split}-s${opts.seed}`;
    return ps.slice(0, n).map((p, i) => problemToTask(p, `arith-${tag}-${i}`));
  }
}

export const arithTaskSource = defineComponent({
  kind: 'task-source',
  name: 'arith',
  description:
    'Program-generated integer arithmetic with a difficulty knob; fixed-seed train/easy/hard splits with exact answers',
  options: {
    type: 'object',
    properties: {
      splits: {
        type: 'object',
        additionalProperties: splitSchema,
        description: 'Split specs by name, merged over the defaults (train, easy, hard).',
        default: {},
      },
    },
    additionalProperties: false,
  },
  create(options) {
    return new ArithTaskSource({ ...DEFAULT_SPLITS, ...options.splits });
  },
});
