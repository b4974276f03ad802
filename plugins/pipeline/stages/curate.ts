import {
  defineComponent,
  majorityVote,
  type AgentRequest,
  type OptionsOf,
  type PipelineStage,
  type Task,
  type Verifier,
} from '../../../core/index.js';
import { ANSWERS, QUESTIONS, TASKS } from '../artifacts.js';
import { engineFor } from '../engines.js';
import { encodePrompt, fill } from '../text.js';
import { rolloutChunked } from '../rollouts.js';
import { engineRef, optionalRef, ref, samplingSchema, toSampling } from '../schema.js';
import type { GeneratedQuestion } from './generate.js';

const curateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    executor: ref('policy', 'the executor policy', 'executor'),
    executorEngine: engineRef('executor'),
    executorLoop: optionalRef('agent-loop', 'agent loop (null: answer without tools, as the code does)'),
    verifier: ref('verifier', 'groups answers into equivalence classes', 'verifier'),
    from: { type: 'string', default: 'generate', description: 'stage whose questions.jsonl to curate' },
    executorPrompt: { type: 'string', default: 'Problem: {problem}\nSolution:\n' },
    chat: { type: 'boolean', default: false },
    k: { type: 'integer', minimum: 1, default: 9 },
    low: { type: 'number', minimum: 0, maximum: 1, default: 0.3, description: 'keep p_hat >= low (paper: 0.25)' },
    high: { type: 'number', minimum: 0, maximum: 1, default: 0.8, description: 'keep p_hat <= high (paper: 0.75)' },
    requireAgreement: {
      type: 'boolean',
      default: false,
      description: "also require the majority to equal the curriculum's own answer",
    },
    rolloutBatch: { type: 'integer', minimum: 1, default: 64 },
    stop: { type: 'array', items: { type: 'string' }, default: [] },
    sampling: samplingSchema({ temperature: 1.0, maxNewTokens: 160 }),
  },
} as const;

type CurateOptions = OptionsOf<typeof curateSchema>;

export interface CuratedRow {
  id: string;
  question: string;
  answers: (string | null)[];
  majority: string | null;
  selfConsistency: number;
  kept: boolean;
  trueAnswer?: string;
  pseudoLabelCorrect?: boolean;
  difficulty?: Record<string, number>;
}

/**
 * One question's vote: the majority of the answers given, p̂ = its count over all k attempts (an
 * attempt without an answer counts against it), kept when p̂ lies in [low, high] (and, with
 * requireAgreement, the majority equals the curriculum's own answer).
 */
export async function voteQuestion(
  verifier: Pick<Verifier, 'equivalent'>,
  q: GeneratedQuestion,
  answers: (string | null)[],
  o: Pick<CurateOptions, 'k' | 'low' | 'high' | 'requireAgreement'>,
): Promise<CuratedRow> {
  const present = answers.filter((a): a is string => a !== null);
  const vote = await majorityVote(verifier, present);
  const p = present.length === 0 ? 0 : (vote.share * present.length) / o.k;
  const majority = present.length === 0 ? null : vote.answer;
  let kept = majority !== null && p >= o.low && p <= o.high;
  if (kept && o.requireAgreement)
    kept = q.ownAnswer !== null && (await verifier.equivalent(majority as string, q.ownAnswer));
  const row: CuratedRow = {
    id: q.id,
    question: q.question,
    answers,
    majority,
    selfConsistency: p,
    kept,
    difficulty: q.difficulty,
  };
  if (q.trueAnswer !== undefined) {
    row.trueAnswer = q.trueAnswer;
    if (majority !== null) row.pseudoLabelCorrect = await verifier.equivalent(q.trueAnswer, majority);
  }
  return row;
}

/** The kept rows as training tasks: the majority as pseudo-label, p̂ as the `selfConsistency` field. */
export function curatedTasks(rows: readonly CuratedRow[]): Task[] {
  return rows
    .filter((r) => r.kept)
    .map((r) => ({
      id: r.id,
      problem: r.question,
      answer: r.majority as string,
      trueAnswer: r.trueAnswer,
      fields: { selfConsistency: r.selfConsistency },
      meta: { difficulty: r.difficulty },
    }));
}

/** The stage's numbers; pseudo-label accuracy only over kept rows whose true answer is known. */
export function curationSummary(rows: readonly CuratedRow[], tasks: readonly Task[]): Record<string, number> {
  const labelled = rows.filter((r) => r.kept && r.pseudoLabelCorrect !== undefined);
  const summary: Record<string, number> = {
    questions: rows.length,
    kept: tasks.length,
    keptRate: tasks.length / Math.max(1, rows.length),
    meanSelfConsistency: rows.length ? rows.reduce((a, r) => a + r.selfConsistency, 0) / rows.length : 0,
    keptSelfConsistency: tasks.length
      ? tasks.reduce((a, t) => a + (t.fields?.selfConsistency ?? 0), 0) / tasks.length
      : 0,
  };
  if (labelled.length > 0)
    summary.pseudoLabelAccuracy = labelled.filter((r) => r.pseudoLabelCorrect).length / labelled.length;
  return summary;
}

/**
 * Agent0 step 3: the executor answers each question k times; questions whose self-consistency lies
 * in [low, high] are kept, with the majority answer as pseudo-label and p_hat as a per-sample field.
 */
export const curateStage = defineComponent({
  kind: 'stage',
  name: 'curate',
  description:
    'keeps generated questions of middling executor self-consistency, with majority pseudo-labels (Agent0 step 3)',
  options: curateSchema,
  create: (o): PipelineStage => ({
    async run(ctx) {
      const questions = await ctx.artifactsOf(o.from).readJsonl<GeneratedQuestion>(QUESTIONS);
      const executor = await engineFor(ctx, await ctx.get(o.executor, 'policy'), o.executorEngine);
      const loop = o.executorLoop ? await ctx.get(o.executorLoop, 'agent-loop') : undefined;
      const verifier = await ctx.get(o.verifier, 'verifier');
      const requests: AgentRequest[] = questions.flatMap((q, i) => {
        const promptIds = encodePrompt(executor.tokenizer, fill(o.executorPrompt, { problem: q.question }), o.chat);
        return Array.from({ length: o.k }, (_, j) => ({ id: `${q.id}-a${j}`, groupId: `${i}`, promptIds }));
      });
      const progress = ctx.progress(`iter ${ctx.iteration} curate`, requests.length, 'sample');
      const trajs = await rolloutChunked(
        executor,
        loop,
        requests,
        toSampling(o.sampling, ctx.rng.seedInt(), loop ? undefined : o.stop),
        o.rolloutBatch,
        (n) => progress.tick(n),
        ctx.signal,
      );
      progress.done();
      const rows: CuratedRow[] = [];
      for (const [i, q] of questions.entries()) {
        const answers = trajs.filter((t) => t.groupId === `${i}`).map((t) => verifier.extract(t.text));
        rows.push(await voteQuestion(verifier, q, answers, o));
      }
      const tasks = curatedTasks(rows);
      await ctx.artifacts.writeJsonl(ANSWERS, rows);
      await ctx.artifacts.writeJsonl(TASKS, tasks);
      const summary = curationSummary(rows, tasks);
      await ctx.metrics.log({ stage: 'curate', iteration: ctx.iteration, ...summary });
      return { summary };
    },
  }),
});
