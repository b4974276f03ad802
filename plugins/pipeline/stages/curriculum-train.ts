import {
  defineComponent,
  majorityVote,
  type AgentRequest,
  type OptionsOf,
  type PipelineStage,
  type RewardSample,
  type StageContext,
  type Trajectory,
  type Verifier,
} from '../../../core/index.js';
import { encodePrompt, fill, parseQuestion } from '../text.js';
import { rolloutChunked } from '../rollouts.js';
import { engineRef, optionalRef, ref, rlSchema, samplingSchema, toSampling } from '../schema.js';
import { commitPolicy, resumeSteps, saveStep } from '../state.js';
import { engineFor, syncEngine } from '../engines.js';
import { rlUpdate, summarize } from '../train.js';

const curriculumTrainSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    curriculum: ref('policy', 'the curriculum policy (trained here)', 'curriculum'),
    executor: ref('policy', 'the executor policy (frozen here; probes the questions)', 'executor'),
    curriculumEngine: engineRef('curriculum'),
    executorEngine: engineRef('executor'),
    curriculumLoop: {
      type: ['string', 'null'],
      'x-ref': 'agent-loop',
      default: null,
      description: 'agent loop for the curriculum (null: single-turn)',
    },
    executorLoop: optionalRef('agent-loop', 'agent loop for executor probes (null: single-turn)', 'executor_loop'),
    verifier: ref('verifier', 'groups the executor answers', 'verifier'),
    reward: ref('reward', 'curriculum reward', 'curriculum_reward'),
    world: optionalRef('task-source', "task source that can measure a question's difficulty (reporting only)"),
    prompt: { type: 'string', default: 'Propose a new problem.\n', description: 'the curriculum instruction' },
    executorPrompt: { type: 'string', default: 'Problem: {problem}\nSolution:\n' },
    chat: { type: 'boolean', default: false, description: "wrap prompts in the tokenizer's chat template" },
    steps: { type: 'integer', minimum: 0, default: 4 },
    batchSize: { type: 'integer', minimum: 1, default: 8, description: 'prompts per step' },
    n: { type: 'integer', minimum: 1, default: 4, description: 'questions sampled per prompt (GRPO group)' },
    k: { type: 'integer', minimum: 1, default: 8, description: 'executor samples per question' },
    rolloutBatch: { type: 'integer', minimum: 1, default: 64 },
    stop: { type: 'array', items: { type: 'string' }, default: [] },
    sampling: samplingSchema({ temperature: 1.0, maxNewTokens: 96 }),
    executorSampling: samplingSchema({ temperature: 0.7, topP: 0.9, maxNewTokens: 160 }),
    checkpointEvery: { type: 'integer', minimum: 1, default: 1 },
    ...rlSchema,
  },
} as const;

export type CurriculumTrainOptions = OptionsOf<typeof curriculumTrainSchema>;

/** Evidence about one proposed question, handed to the curriculum reward in `RewardSample.extra`. */
export interface CurriculumEvidence {
  /** null when the output did not parse (format failure). */
  question: string | null;
  /** The curriculum's own boxed answer, when it wrote one. */
  ownAnswer: string | null;
  /** Final answers the executor extracted in its k attempts (null: no answer). */
  executorAnswers: (string | null)[];
  executorToolCalls: number[];
  curriculumToolCalls: number;
}

/**
 * For each proposed question, k executor rollouts → evidence for the curriculum reward.
 * Unparsable proposals get no executor rollouts.
 */
export async function probeQuestions(
  ctx: StageContext,
  o: Pick<
    CurriculumTrainOptions,
    | 'executor'
    | 'executorEngine'
    | 'executorLoop'
    | 'verifier'
    | 'executorPrompt'
    | 'chat'
    | 'k'
    | 'rolloutBatch'
    | 'stop'
    | 'executorSampling'
  >,
  proposals: Trajectory[],
  seed: number,
): Promise<CurriculumEvidence[]> {
  const executor = await ctx.get(o.executor, 'policy');
  const loop = o.executorLoop ? await ctx.get(o.executorLoop, 'agent-loop') : undefined;
  const verifier = await ctx.get(o.verifier, 'verifier');
  const parsed = proposals.map((p) => parseQuestion(p.text));
  const requests: AgentRequest[] = [];
  parsed.forEach((q, i) => {
    if (!q) return;
    const promptIds = encodePrompt(executor.tokenizer, fill(o.executorPrompt, { problem: q.question }), o.chat);
    for (let j = 0; j < o.k; j++) requests.push({ id: `${proposals[i]?.id}-x${j}`, groupId: `${i}`, promptIds });
  });
  const solved = await rolloutChunked(
    await engineFor(ctx, executor, o.executorEngine),
    loop,
    requests,
    toSampling(o.executorSampling, seed, loop ? undefined : o.stop),
    o.rolloutBatch,
    undefined,
    ctx.signal,
  );
  const byQ = new Map<string, Trajectory[]>();
  for (const t of solved) byQ.set(t.groupId, [...(byQ.get(t.groupId) ?? []), t]);
  return parsed.map((q, i) => {
    const sols = byQ.get(`${i}`) ?? [];
    return {
      question: q?.question ?? null,
      ownAnswer: q ? verifier.extract(q.rest) : null,
      executorAnswers: sols.map((s) => verifier.extract(s.text)),
      executorToolCalls: sols.map((s) => s.toolCalls),
      curriculumToolCalls: proposals[i]?.toolCalls ?? 0,
    };
  });
}

/**
 * The executor's agreement on a question: the majority's share of its answers times the share of attempts that
 * answered.
 */
export async function executorAgreement(
  verifier: Pick<Verifier, 'equivalent'>,
  answers: readonly (string | null)[],
): Promise<number> {
  const present = answers.filter((a): a is string => a !== null);
  return (await majorityVote(verifier, present)).share * (present.length / Math.max(1, answers.length));
}

export const curriculumTrain = defineComponent({
  kind: 'stage',
  name: 'curriculum-train',
  description: 'trains the curriculum agent with GRPO on the uncertainty/tool/repetition reward (Agent0 step 1)',
  options: curriculumTrainSchema,
  create: (o): PipelineStage => ({
    async run(ctx) {
      const curriculum = await ctx.get(o.curriculum, 'policy');
      const cengine = await engineFor(ctx, curriculum, o.curriculumEngine);
      const cloop = o.curriculumLoop ? await ctx.get(o.curriculumLoop, 'agent-loop') : undefined;
      const reward = await ctx.get(o.reward, 'reward');
      const world = o.world ? await ctx.get(o.world, 'task-source') : undefined;
      const reference = o.kl ? await curriculum.snapshot() : undefined;
      const start = await resumeSteps(ctx, curriculum, 'curriculum-train');
      const progress = ctx.progress(`iter ${ctx.iteration} curriculum-train`, o.steps, 'step');
      const promptIds = encodePrompt(curriculum.tokenizer, o.prompt, o.chat);
      let last: Record<string, number> = {};
      try {
        for (let step = start; step < o.steps; step++) {
          ctx.signal.throwIfAborted();
          const seed = ctx.rng.fork(`step-${step}`).seedInt();
          const requests: AgentRequest[] = [];
          for (let b = 0; b < o.batchSize; b++)
            for (let j = 0; j < o.n; j++)
              requests.push({ id: `c${ctx.iteration}-${step}-${b}-${j}`, groupId: `${b}`, promptIds });
          const proposals = await rolloutChunked(
            cengine,
            cloop,
            requests,
            toSampling(o.sampling, seed, cloop ? undefined : o.stop),
            o.rolloutBatch,
            undefined,
            ctx.signal,
          );
          const evidence = await probeQuestions(ctx, o, proposals, seed + 1);
          const samples: RewardSample[] = proposals.map((p, i) => ({
            response: p.text,
            task: { id: p.id, problem: o.prompt },
            trajectory: p,
            extra: { ...(evidence[i] as CurriculumEvidence) },
          }));
          const rewards = (await reward.score(samples)).map((r) => r.reward);
          const upd = await rlUpdate(ctx, curriculum, reference, proposals, rewards, o);
          const ev = evidence.filter((e) => e.question !== null);
          const verifier = await ctx.get(o.verifier, 'verifier');
          const shares: number[] = [];
          for (const e of ev) shares.push(await executorAgreement(verifier, e.executorAnswers));
          const diff = world?.difficulty
            ? ev
                .map((e) => world.difficulty?.(e.question as string))
                .filter((d): d is Record<string, number> => d !== undefined)
            : [];
          last = {
            reward: mean(rewards.filter((r): r is number => r !== null)),
            parseRate: ev.length / Math.max(1, proposals.length),
            selfConsistency: mean(shares),
            curriculumToolCalls: mean(proposals.map((p) => p.toolCalls)),
            executorToolCalls: mean(ev.flatMap((e) => e.executorToolCalls)),
            ...summarize(diff, 'difficulty.'),
            ...upd,
          };
          await ctx.metrics.log({ stage: 'curriculum-train', iteration: ctx.iteration, step, ...last });
          if ((step + 1) % o.checkpointEvery === 0 || step + 1 === o.steps) {
            await syncEngine(ctx, cengine, curriculum, await saveStep(ctx, curriculum, step + 1));
          }
          progress.tick(1, { reward: last.reward ?? 0, p: last.selfConsistency ?? 0 });
        }
      } finally {
        await reference?.dispose();
      }
      progress.done();
      await commitPolicy(ctx, o.curriculum, curriculum);
      return { summary: { steps: o.steps, ...last } };
    },
  }),
});

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}
