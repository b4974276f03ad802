import { defineComponent, type OptionsOf, type PipelineStage } from '../../../core/index.js';
import { EVAL_SUMMARY, evalItems } from '../artifacts.js';
import { engineFor } from '../engines.js';
import { evaluateTasks, type EvalSummary } from '../evaluation.js';
import { engineRef, optionalRef, ref, samplingSchema } from '../schema.js';

const evaluateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    executor: ref('policy', 'the policy to evaluate', 'executor'),
    executorEngine: engineRef('executor'),
    executorLoop: optionalRef('agent-loop', 'agent loop (null: no tools)', 'executor_loop'),
    verifier: ref('verifier', 'compares answers with the true ones', 'verifier'),
    source: ref('task-source', 'benchmark source (embedded world splits, JSONL / Parquet files)', 'world'),
    splits: { type: 'array', items: { type: 'string' }, default: ['easy', 'hard'] },
    limit: { type: 'integer', minimum: 1, default: 200, description: 'items per split' },
    executorPrompt: { type: 'string', default: 'Problem: {problem}\nSolution:\n' },
    chat: { type: 'boolean', default: false },
    maxNewTokens: { type: 'integer', minimum: 1, default: 160 },
    k: { type: 'integer', minimum: 0, default: 0, description: 'sampled attempts for mean@k / maj@k (0: greedy only)' },
    sampling: samplingSchema({ temperature: 0.7, topP: 0.9, maxNewTokens: 160 }),
    rolloutBatch: { type: 'integer', minimum: 1, default: 64 },
    stop: { type: 'array', items: { type: 'string' }, default: [] },
  },
} as const;

export type EvaluateOptions = OptionsOf<typeof evaluateSchema>;

/** Held-out evaluation with true answers: greedy pass@1, sampled mean@k / maj@k, tool use. */
export const evaluateStage = defineComponent({
  kind: 'stage',
  name: 'evaluate',
  description:
    'held-out benchmarks with true answers: greedy pass@1, sampled mean@k / maj@k, tool calls (Agent0 evaluation)',
  options: evaluateSchema,
  create: (o): PipelineStage => ({
    async run(ctx) {
      const executor = await engineFor(ctx, await ctx.get(o.executor, 'policy'), o.executorEngine);
      const loop = o.executorLoop ? await ctx.get(o.executorLoop, 'agent-loop') : undefined;
      const verifier = await ctx.get(o.verifier, 'verifier');
      const source = await ctx.get(o.source, 'task-source');
      const summary: Record<string, number> = {};
      const all: Record<string, EvalSummary> = {};
      for (const split of o.splits) {
        const tasks = await source.load(split, { limit: o.limit });
        const progress = ctx.progress(`iter ${ctx.iteration} evaluate ${split}`, tasks.length, 'item');
        const res = await evaluateTasks(
          executor,
          loop,
          verifier,
          tasks,
          { ...o, seed: ctx.rng.fork(split).seedInt() },
          (n) => progress.tick(n),
          ctx.signal,
        );
        progress.done({ accuracy: res.summary.accuracy });
        // a newline even after no items (unlike writeJsonl): the bytes every earlier run wrote
        await ctx.artifacts.writeText(
          evalItems(split),
          res.items.map((x) => JSON.stringify({ split, ...x })).join('\n') + '\n',
        );
        all[split] = res.summary;
        for (const [k, v] of Object.entries(res.summary)) summary[`${split}.${k}`] = v as number;
        await ctx.metrics.log({ stage: 'evaluate', iteration: ctx.iteration, split, ...res.summary });
        ctx.log.info(
          `${split}: accuracy ${(100 * res.summary.accuracy).toFixed(1)}% over ${res.summary.items}, tool calls/solution ${res.summary.toolCallsPerSolution.toFixed(2)}`,
        );
      }
      await ctx.artifacts.writeJson(EVAL_SUMMARY, all);
      return { summary };
    },
  }),
});
