import { Rng, type OptionsOf, type Task } from '../../core/index.js';
import { type Problem, GEN_OPS, generateProblem } from './generate.js';

/** One component of a split's difficulty mixture: Difficulty fields (unset: the generator's defaults) and a weight. */
const difficultySchema = {
  type: 'object',
  properties: {
    weight: { type: 'number', exclusiveMinimum: 0 },
    minDigits: { type: 'integer', minimum: 1, maximum: 12 },
    maxDigits: { type: 'integer', minimum: 1, maximum: 12 },
    minOps: { type: 'integer', minimum: 1, maximum: 12 },
    maxOps: { type: 'integer', minimum: 1, maximum: 12 },
    operators: { type: 'array', items: { enum: [...GEN_OPS] }, minItems: 1, uniqueItems: true },
    parenProb: { type: 'number', minimum: 0, maximum: 1 },
    wordProb: { type: 'number', minimum: 0, maximum: 1 },
    powBaseMax: { type: 'integer', minimum: 2, maximum: 99 },
    powExpMax: { type: 'integer', minimum: 2, maximum: 9 },
  },
  additionalProperties: false,
} as const;

export const splitSchema = {
  type: 'object',
  properties: {
    size: { type: 'integer', minimum: 1 },
    // fixed: a split is the same set of problems in every run
    seed: { type: 'integer' },
    mix: { type: 'array', items: difficultySchema, minItems: 1 },
    // other splits whose problem texts this split never contains (held-out stays held out)
    excludes: { type: 'array', items: { type: 'string' } },
  },
  required: ['size', 'seed', 'mix'],
  additionalProperties: false,
} as const;

export type SplitSpec = OptionsOf<typeof splitSchema>;
export type MixPart = SplitSpec['mix'][number];

const EASY: MixPart = { minDigits: 1, maxDigits: 1, minOps: 1, maxOps: 1, operators: ['+', '-', '*'] };
const MEDIUM: MixPart = { minDigits: 1, maxDigits: 2, minOps: 1, maxOps: 2, operators: ['+', '-', '*', '/', '%'] };
const HARD: MixPart = { minDigits: 2, maxDigits: 3, minOps: 2, maxOps: 4, operators: [...GEN_OPS], parenProb: 0.4 };

/**
 * Defaults: the bootstrap corpus is mostly easy (so the base model is good at easy problems and
 * poor at hard ones); 'easy' is drawn from the same small space as most of 'train' (single-digit
 * facts a tiny model memorises: it measures the skill the base model has), 'hard' is disjoint from
 * 'train'.
 */
export const DEFAULT_SPLITS: Record<string, SplitSpec> = {
  train: {
    size: 20000,
    seed: 1001,
    mix: [
      { ...EASY, weight: 0.5 },
      { ...MEDIUM, weight: 0.3 },
      { ...HARD, weight: 0.2 },
    ],
    excludes: ['hard'],
  },
  easy: { size: 200, seed: 2002, mix: [EASY] },
  hard: { size: 200, seed: 3003, mix: [HARD] },
};

/** Draws one problem from a weighted mixture. */
export function sampleMix(rng: Rng, mix: readonly MixPart[]): Problem {
  if (mix.length === 0) throw new RangeError('empty difficulty mixture');
  const total = mix.reduce((s, m) => s + (m.weight ?? 1), 0);
  let u = rng.next() * total;
  let part = mix[mix.length - 1] as MixPart;
  for (const m of mix) {
    u -= m.weight ?? 1;
    if (u < 0) {
      part = m;
      break;
    }
  }
  const { weight: _w, ...difficulty } = part;
  return generateProblem(rng, difficulty);
}

/** `size` problems of a split, deterministic in `seed`; texts in `exclude` are skipped. */
export function generateSplit(spec: SplitSpec, seed = spec.seed, exclude: ReadonlySet<string> = new Set()): Problem[] {
  const rng = new Rng(seed, 'arith-split');
  const out: Problem[] = [];
  let misses = 0;
  while (out.length < spec.size) {
    const p = sampleMix(rng, spec.mix);
    if (exclude.has(p.text)) {
      if (++misses > 100 * spec.size + 1000) throw new Error('split space exhausted by exclusions');
      continue;
    }
    out.push(p);
  }
  return out;
}

export function problemToTask(p: Problem, id: string): Task {
  const a = p.answer.toString();
  return {
    id,
    problem: p.text,
    answer: a,
    trueAnswer: a,
    meta: { expr: p.expr, ops: p.ops, maxDigits: p.maxDigits, kind: p.kind },
  };
}
