import { defineComponent, type AgentRequest, type PipelineStage } from '../../../core/index.js';
import { QUESTIONS } from '../artifacts.js';
import { engineFor } from '../engines.js';
import { encodePrompt, parseQuestion } from '../text.js';
import { rolloutChunked } from '../rollouts.js';
import { engineRef, optionalRef, ref, samplingSchema, toSampling } from '../schema.js';

export interface GeneratedQuestion {
  id: string;
  question: string;
  ownAnswer: string | null;
  curriculumToolCalls: number;
  difficulty?: Record<string, number>;
  trueAnswer?: string;
}

/** Agent0 step 2: the trained curriculum writes questions (parsed, deduplicated) to `questions.jsonl`. */
export const generateStage = defineComponent({
  kind: 'stage',
  name: 'generate',
  description: 'the curriculum agent writes N questions (Agent0 step 2)',
  options: {
    type: 'object',
    additionalProperties: false,
    properties: {
      curriculum: ref('policy', 'the curriculum policy', 'curriculum'),
      curriculumEngine: engineRef('curriculum'),
      curriculumLoop: optionalRef('agent-loop', 'agent loop for the curriculum (null: single-turn)'),
      verifier: ref('verifier', "extracts the curriculum's own answer", 'verifier'),
      world: optionalRef('task-source', 'task source that measures difficulty and knows true answers (reporting only)'),
      prompt: { type: 'string', default: 'Propose a new problem.\n' },
      chat: { type: 'boolean', default: false },
      count: { type: 'integer', minimum: 1, default: 256, description: 'questions to keep' },
      maxAttempts: { type: 'integer', minimum: 1, default: 1024, description: 'samples drawn at most' },
      dedupe: { type: 'boolean', default: true, description: 'drop exact repeats (whitespace-insensitive)' },
      rolloutBatch: { type: 'integer', minimum: 1, default: 64 },
      sampling: samplingSchema({ temperature: 1.0, maxNewTokens: 96 }),
    },
  },
  create: (o): PipelineStage => ({
    async run(ctx) {
      const done = await ctx.artifacts.readJsonl<GeneratedQuestion>(QUESTIONS);
      if (done.length > 0 && (await ctx.loadState<{ complete: boolean }>())?.complete)
        return { summary: { questions: done.length } };
      const curriculum = await engineFor(ctx, await ctx.get(o.curriculum, 'policy'), o.curriculumEngine);
      const loop = o.curriculumLoop ? await ctx.get(o.curriculumLoop, 'agent-loop') : undefined;
      const verifier = await ctx.get(o.verifier, 'verifier');
      const world = o.world ? await ctx.get(o.world, 'task-source') : undefined;
      const promptIds = encodePrompt(curriculum.tokenizer, o.prompt, o.chat);
      const seen = new Set<string>();
      const out: GeneratedQuestion[] = [];
      let attempts = 0;
      let parsedCount = 0;
      const progress = ctx.progress(`iter ${ctx.iteration} generate`, o.count, 'q');
      while (out.length < o.count && attempts < o.maxAttempts) {
        const batch = Math.min(o.rolloutBatch, o.maxAttempts - attempts);
        const requests: AgentRequest[] = Array.from({ length: batch }, (_, j) => ({
          id: `g${ctx.iteration}-${attempts + j}`,
          groupId: `${attempts + j}`,
          promptIds,
        }));
        const trajs = await rolloutChunked(
          curriculum,
          loop,
          requests,
          toSampling(o.sampling, ctx.rng.fork(`batch-${attempts}`).seedInt()),
          o.rolloutBatch,
          undefined,
          ctx.signal,
        );
        attempts += batch;
        for (const t of trajs) {
          const q = parseQuestion(t.text);
          if (!q) continue;
          parsedCount++;
          const key = q.question.replace(/\s+/g, ' ');
          if (o.dedupe && seen.has(key)) continue;
          seen.add(key);
          if (out.length >= o.count) break;
          out.push({
            id: `iter${ctx.iteration}-q${out.length}`,
            question: q.question,
            ownAnswer: verifier.extract(q.rest),
            curriculumToolCalls: t.toolCalls,
            difficulty: world?.difficulty?.(q.question),
            trueAnswer: world?.solve?.(q.question),
          });
          progress.tick(1);
        }
      }
      progress.done();
      await ctx.artifacts.writeJsonl(QUESTIONS, out);
      const summary = {
        questions: out.length,
        attempts,
        parseRate: parsedCount / Math.max(1, attempts),
        uniqueRate: out.length / Math.max(1, parsedCount),
      };
      await ctx.metrics.log({ stage: 'generate', iteration: ctx.iteration, ...summary });
      // after the metric row: a resumed run keeps the rows logged before the saved state
      await ctx.saveState({ complete: true });
      return { summary };
    },
  }),
});
