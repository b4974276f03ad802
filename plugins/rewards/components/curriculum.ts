import {
  defineComponent,
  majorityVote,
  type OptionsOf,
  type RewardFunction,
  type RewardResult,
  type RewardSample,
  type Verifier,
} from '../../../core/index.js';
import { repetitionShares } from '../repetition.js';
import { countOccurrences, toolReward } from './tool-use.js';

export const curriculumSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    verifier: {
      type: 'string',
      'x-ref': 'verifier',
      default: 'verifier',
      description: 'groups the executor answers into equivalence classes',
    },
    variant: {
      enum: ['code', 'paper'],
      default: 'code',
      description:
        'defaults of the released Agent0 code or of the paper (each null option below takes its variant default)',
    },
    uncertainty: {
      enum: ['min', 'tent', null],
      default: null,
      description: 'min: min(p, 1-p) (code); tent: 1 - 2|p - 0.5| (paper)',
    },
    ownAnswerGate: {
      type: ['boolean', 'null'],
      default: null,
      description:
        "p := 0 unless the majority answer equals the curriculum's own boxed answer and p > minShare (code: true, paper: false)",
    },
    minShare: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.1,
      description: "the gate's lower bound on p (code: 0.1)",
    },
    requireOwnAnswer: {
      type: 'boolean',
      default: true,
      description:
        "a question without the curriculum's own \\boxed answer is a format failure (as the code requires both)",
    },
    unanswered: {
      enum: ['class', 'count', 'ignore', null],
      default: null,
      description:
        'executor samples without an answer: class: one more answer class in the vote, which can win it (code); count: out of the vote but in k (paper); ignore: out of the vote and of k',
    },
    uncertaintyWeight: { type: 'number', default: 1, description: 'lambda_unc' },
    toolWeight: {
      type: ['number', 'null'],
      default: null,
      description: 'w in R_tool = w * min(N_tool, C) (code: 0.05, paper: 0.6); 0 turns the tool term off',
    },
    toolCap: { type: 'integer', minimum: 0, default: 4, description: 'C' },
    toolSource: {
      enum: ['curriculum', 'executor', null],
      default: null,
      description:
        "whose tool calls count: the curriculum's own response (code) or the mean over the executor's k attempts (paper)",
    },
    toolPattern: {
      type: 'string',
      minLength: 1,
      default: '```output',
      description: "marker counted in the curriculum's text when neither evidence nor trajectory gives its tool calls",
    },
    repetition: {
      type: 'boolean',
      default: true,
      description: "apply the BLEU-cluster repetition penalty (false: the paper's ablation)",
    },
    repetitionWeight: { type: 'number', minimum: 0, default: 1, description: 'multiplies R_rep = |cluster| / B' },
    distanceThreshold: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 0.5,
      description: 'average-linkage distance threshold on 1 - BLEU',
    },
    formatFailure: { type: 'number', default: -1, description: 'score of an unparsable proposal' },
    formatFailureFlat: {
      type: ['boolean', 'null'],
      default: null,
      description:
        'true: an unparsable proposal gets exactly formatFailure (paper); false: formatFailure replaces the uncertainty term and the repetition and tool terms still apply, as in the released code',
    },
    clampAtZero: {
      type: ['boolean', 'null'],
      default: null,
      description: 'max(0, ...) on parsed proposals (paper: true, code: false)',
    },
  },
} as const;

export type CurriculumOptions = OptionsOf<typeof curriculumSchema>;
export type CurriculumVariant = CurriculumOptions['variant'];
/**
 * Executor rollouts without an answer: `class` (released code: mathruler reads them as the answer
 * "None", which takes part in the vote and can win it), `count` (out of the vote, in k) or `ignore`
 * (out of the vote and of k).
 */
export type Unanswered = NonNullable<CurriculumOptions['unanswered']>;

type VariantDefaulted =
  'uncertainty' | 'unanswered' | 'ownAnswerGate' | 'toolWeight' | 'toolSource' | 'formatFailureFlat' | 'clampAtZero';
/** The options with every variant default (null) resolved. */
export type ResolvedCurriculum = Omit<CurriculumOptions, VariantDefaulted> & {
  [K in VariantDefaulted]: NonNullable<CurriculumOptions[K]>;
};

export function resolveCurriculum(o: CurriculumOptions): ResolvedCurriculum {
  const code = o.variant === 'code';
  return {
    ...o,
    uncertainty: o.uncertainty ?? (code ? 'min' : 'tent'),
    unanswered: o.unanswered ?? (code ? 'class' : 'count'),
    ownAnswerGate: o.ownAnswerGate ?? code,
    toolWeight: o.toolWeight ?? (code ? 0.05 : 0.6),
    toolSource: o.toolSource ?? (code ? 'curriculum' : 'executor'),
    formatFailureFlat: o.formatFailureFlat ?? !code,
    clampAtZero: o.clampAtZero ?? !code,
  };
}

/** What the curriculum-train stage hands over per proposal in `RewardSample.extra`. */
export interface CurriculumEvidence {
  question: string | null;
  ownAnswer: string | null;
  executorAnswers: (string | null)[];
  executorToolCalls?: number[];
  curriculumToolCalls?: number;
}

function readEvidence(s: RewardSample, i: number): CurriculumEvidence {
  const e = s.extra as Partial<CurriculumEvidence> | undefined;
  const where = `reward/curriculum: sample ${i}`;
  if (!e || typeof e !== 'object')
    throw new Error(
      `${where} has no extra evidence; the stage must pass {question, ownAnswer, executorAnswers, executorToolCalls, curriculumToolCalls} in RewardSample.extra`,
    );
  if (e.question !== null && typeof e.question !== 'string')
    throw new Error(`${where}: extra.question must be a string or null`);
  if (e.ownAnswer !== null && e.ownAnswer !== undefined && typeof e.ownAnswer !== 'string')
    throw new Error(`${where}: extra.ownAnswer must be a string or null`);
  if (!Array.isArray(e.executorAnswers))
    throw new Error(`${where}: extra.executorAnswers must be an array of answers (string or null)`);
  if (e.executorToolCalls !== undefined && !Array.isArray(e.executorToolCalls))
    throw new Error(`${where}: extra.executorToolCalls must be an array of numbers`);
  return {
    question: e.question,
    ownAnswer: e.ownAnswer ?? null,
    executorAnswers: e.executorAnswers,
    executorToolCalls: e.executorToolCalls,
    curriculumToolCalls: e.curriculumToolCalls,
  };
}

/** R_unc from self-consistency p: min(p, 1-p) or 1 - 2|p - 0.5|. */
export function uncertaintyReward(p: number, form: 'min' | 'tent'): number {
  return form === 'min' ? Math.min(p, 1 - p) : 1 - 2 * Math.abs(p - 0.5);
}

/** The majority of the executor's answers: its answer (null: no answer won, or none was given), its size, and k. */
export async function executorMajority(
  verifier: Pick<Verifier, 'equivalent'>,
  executorAnswers: readonly (string | null)[],
  unanswered: Unanswered,
): Promise<{ answer: string | null; count: number; k: number }> {
  const at = executorAnswers.flatMap((a, i) => (typeof a === 'string' ? [i] : []));
  const answers = at.map((i) => executorAnswers[i] as string);
  const k = unanswered === 'ignore' ? answers.length : executorAnswers.length;
  const vote = answers.length ? await majorityVote(verifier, answers) : null;
  const top = vote?.classes[0];
  const none = executorAnswers.length - answers.length;
  if (unanswered === 'class' && none > 0) {
    // classes are ordered by first appearance among equals, as the released code's dict is
    const firstNone = executorAnswers.findIndex((a) => typeof a !== 'string');
    if (!top || none > top.count || (none === top.count && firstNone < (at[top.members[0] as number] as number)))
      return { answer: null, count: none, k };
  }
  return { answer: top?.answer ?? null, count: top?.count ?? 0, k };
}

/** One proposal's terms, before they are combined. */
export interface CurriculumTerms {
  parsed: boolean;
  /** Gated self-consistency (the p the uncertainty term sees). */
  p: number;
  toolCalls: number;
  /** |cluster| / B. */
  repetition: number;
}

/** Combines the terms as the chosen variant does; `parts` carries each term for metrics. */
export function combineCurriculum(t: CurriculumTerms, o: ResolvedCurriculum): RewardResult {
  const unc = t.parsed ? uncertaintyReward(t.p, o.uncertainty) : 0;
  const tool = toolReward(t.toolCalls, o.toolWeight, o.toolCap);
  const rep = o.repetition ? o.repetitionWeight * t.repetition : 0;
  let reward: number;
  if (!t.parsed) reward = o.formatFailureFlat ? o.formatFailure : o.formatFailure - rep + tool;
  else {
    reward = o.uncertaintyWeight * unc + tool - rep;
    if (o.clampAtZero) reward = Math.max(0, reward);
  }
  return {
    reward,
    parts: {
      format: t.parsed ? 1 : 0,
      selfConsistency: t.p,
      uncertainty: unc,
      tool,
      toolCalls: t.toolCalls,
      repetition: rep,
    },
  };
}

/**
 * Agent0's curriculum reward. Batch-aware: the repetition penalty clusters every proposal of the
 * batch; unparsable proposals take part as empty questions (as in the released code), which never
 * join a cluster (BLEU of an empty sentence is 0) but count in the batch size B.
 */
export class CurriculumReward implements RewardFunction {
  readonly o: ResolvedCurriculum;

  constructor(
    private readonly verifier: Pick<Verifier, 'equivalent'>,
    options: CurriculumOptions,
  ) {
    this.o = resolveCurriculum(options);
  }

  async score(batch: RewardSample[]): Promise<RewardResult[]> {
    const o = this.o;
    const ev = batch.map(readEvidence);
    const parsed = ev.map((e) => e.question !== null && (!o.requireOwnAnswer || e.ownAnswer !== null));
    const shares = o.repetition
      ? repetitionShares(
          ev.map((e, i) => (parsed[i] ? (e.question as string) : '')),
          o.distanceThreshold,
        ).shares
      : batch.map(() => 0);
    const ps = await Promise.all(ev.map((e, i) => (parsed[i] ? this.selfConsistency(e) : Promise.resolve(0))));
    return batch.map((s, i) => {
      const e = ev[i] as CurriculumEvidence;
      return combineCurriculum(
        {
          parsed: parsed[i] as boolean,
          p: ps[i] as number,
          toolCalls: this.toolCalls(s, e),
          repetition: shares[i] as number,
        },
        o,
      );
    });
  }

  /** Majority share of the executor's answers, gated on agreeing with the curriculum's own answer. */
  private async selfConsistency(e: CurriculumEvidence): Promise<number> {
    const { answer, count, k } = await executorMajority(this.verifier, e.executorAnswers, this.o.unanswered);
    if (k === 0) return 0;
    const p = count / k;
    if (!this.o.ownAnswerGate) return p;
    // "no answer" winning the vote never agrees with the curriculum's answer (grade_answer("None", y) is false)
    if (p <= this.o.minShare || e.ownAnswer === null || answer === null) return 0;
    return (await this.verifier.equivalent(e.ownAnswer, answer)) ? p : 0;
  }

  private toolCalls(s: RewardSample, e: CurriculumEvidence): number {
    if (this.o.toolSource === 'executor') {
      const calls = e.executorToolCalls ?? [];
      return calls.length === 0 ? 0 : calls.reduce((a, b) => a + b, 0) / calls.length;
    }
    return e.curriculumToolCalls ?? s.trajectory?.toolCalls ?? countOccurrences(s.response, this.o.toolPattern);
  }
}

export const curriculumReward = defineComponent({
  kind: 'reward',
  name: 'curriculum',
  description:
    'Agent0 curriculum reward: executor uncertainty + tool use - BLEU-cluster repetition; format failures -1 (variant code|paper)',
  options: curriculumSchema,
  create: async (o, ctx) => new CurriculumReward(await ctx.get(o.verifier, 'verifier'), o),
});
