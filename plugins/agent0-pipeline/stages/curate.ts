import { defineComponent, majorityVote, type AgentRequest, type PipelineStage, type Task } from '../../../core/index.js';
import { engineFor } from '../engines.js';
import { encodePrompt, fill } from '../text.js';
import { rolloutChunked } from '../rollouts.js';
import { engineRef, optionalRef, ref, samplingSchema, toSampling, type SamplingOptions } from '../schema.js';
import type { GeneratedQuestion } from './generate.js';

interface CurateOptions {
  executor: string;
  executorEngine: string | null;
  executorLoop: string | null;
  verifier: string;
  from: string;
  executorPrompt: string;
  chat: boolean;
  k: number;
  low: number;
  high: number;
  requireAgreement: boolean;
  rolloutBatch: number;
  stop: string[];
  sampling: SamplingOptions;
}

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
 * Agent0 step 3: the executor answers each question k times; questions whose self-consistency lies
 * in [low, high] are kept, with the majority answer as pseudo-label and p_hat as a per-sample field.
 */
export const curateStage = defineComponent({
  kind: 'stage',
  name: 'curate',
  description: 'keeps generated questions of middling executor self-consistency, with majority pseudo-labels (Agent0 step 3)',
  options: {
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
      requireAgreement: { type: 'boolean', default: false, description: 'also require the majority to equal the curriculum\'s own answer' },
      rolloutBatch: { type: 'integer', minimum: 1, default: 64 },
      stop: { type: 'array', items: { type: 'string' }, default: [] },
      sampling: samplingSchema({ temperature: 1.0, maxNewTokens: 160 }),
    },
  },
  create: (o: CurateOptions): PipelineStage => ({
    async run(ctx) {
      const questions = await ctx.runDir.readJsonl<GeneratedQuestion>(`${ctx.outputDir(o.from).slice(ctx.runDir.root.length + 1)}/questions.jsonl`);
      const executor = await engineFor(ctx, await ctx.get(o.executor, 'policy'), o.executorEngine);
      const loop = o.executorLoop ? await ctx.get(o.executorLoop, 'agent-loop') : undefined;
      const verifier = await ctx.get(o.verifier, 'verifier');
      const requests: AgentRequest[] = questions.flatMap((q, i) => {
        const promptIds = encodePrompt(executor.tokenizer, fill(o.executorPrompt, { problem: q.question }), o.chat);
        return Array.from({ length: o.k }, (_, j) => ({ id: `${q.id}-a${j}`, groupId: `${i}`, promptIds }));
      });
      const progress = ctx.progress(`iter ${ctx.iteration} curate`, requests.length, 'sample');
      const trajs = await rolloutChunked(executor, loop, requests, toSampling(o.sampling, ctx.rng.seedInt(), loop ? undefined : o.stop), o.rolloutBatch, (n) => progress.tick(n), ctx.signal);
      progress.done();
      const rows: CuratedRow[] = [];
      for (const [i, q] of questions.entries()) {
        const answers = trajs.filter((t) => t.groupId === `${i}`).map((t) => verifier.extract(t.text));
        const present = answers.filter((a): a is string => a !== null);
        const vote = await majorityVote(verifier, present);
        const p = present.length === 0 ? 0 : (vote.share * present.length) / o.k;
        const majority = present.length === 0 ? null : vote.answer;
        let kept = majority !== null && p >= o.low && p <= o.high;
        if (kept && o.requireAgreement) kept = q.ownAnswer !== null && (await verifier.equivalent(majority as string, q.ownAnswer));
        const row: CuratedRow = { id: q.id, question: q.question, answers, majority, selfConsistency: p, kept, difficulty: q.difficulty };
        if (q.trueAnswer !== undefined) {
          row.trueAnswer = q.trueAnswer;
          if (majority !== null) row.pseudoLabelCorrect = await verifier.equivalent(q.trueAnswer, majority);
        }
        rows.push(row);
      }
      const tasks: Task[] = rows.filter((r) => r.kept).map((r) => ({
        id: r.id, problem: r.question, answer: r.majority as string, trueAnswer: r.trueAnswer,
        fields: { selfConsistency: r.selfConsistency }, meta: { difficulty: r.difficulty },
      }));
      await ctx.runDir.writeText(`${ctx.key}/answers.jsonl`, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
      await ctx.runDir.writeText(`${ctx.key}/tasks.jsonl`, tasks.map((t) => JSON.stringify(t)).join('\n') + (tasks.length ? '\n' : ''));
      const labelled = rows.filter((r) => r.kept && r.pseudoLabelCorrect !== undefined);
      const summary: Record<string, number> = {
        questions: rows.length,
        kept: tasks.length,
        keptRate: tasks.length / Math.max(1, rows.length),
        meanSelfConsistency: rows.length ? rows.reduce((a, r) => a + r.selfConsistency, 0) / rows.length : 0,
        keptSelfConsistency: tasks.length ? tasks.reduce((a, t) => a + (t.fields?.selfConsistency ?? 0), 0) / tasks.length : 0,
      };
      if (labelled.length > 0) summary.pseudoLabelAccuracy = labelled.filter((r) => r.pseudoLabelCorrect).length / labelled.length;
      await ctx.metrics.log({ stage: 'curate', iteration: ctx.iteration, ...summary });
      return { summary };
    },
  }),
});
