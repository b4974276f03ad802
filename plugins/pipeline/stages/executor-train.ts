import {
  defineComponent,
  type AgentRequest,
  type PipelineStage,
  type RewardSample,
  type Rng,
  type Task,
  type Trajectory,
  type Verifier,
} from '../../../core/index.js';
import { TASKS } from '../artifacts.js';
import { encodePrompt, fill } from '../text.js';
import { rolloutChunked } from '../rollouts.js';
import { engineRef, optionalRef, ref, rlSchema, samplingSchema, toSampling } from '../schema.js';
import { commitPolicy, resumeSteps, saveStep } from '../state.js';
import { engineFor, syncEngine } from '../engines.js';
import { rlUpdate } from '../train.js';
import { mean } from './curriculum-train.js';

/** Drops groups whose rewards are all equal (DAPO dynamic sampling): they carry no GRPO signal. */
export function informativeGroups(trajs: readonly Trajectory[], rewards: readonly (number | null)[]): boolean[] {
  const byGroup = new Map<string, number[]>();
  trajs.forEach((t, i) => {
    const r = rewards[i];
    if (r !== null && r !== undefined) byGroup.set(t.groupId, [...(byGroup.get(t.groupId) ?? []), r]);
  });
  return trajs.map((t) => {
    const rs = byGroup.get(t.groupId) ?? [];
    return rs.some((r) => r !== rs[0]);
  });
}

/**
 * The tasks of step `step` (0-based): each epoch is its own shuffle, keyed by the epoch number, so
 * a resumed run draws exactly the batches it would have drawn.
 */
export function stepTasks<T>(tasks: readonly T[], batchSize: number, step: number, rng: Rng): T[] {
  const perEpoch = Math.max(1, Math.floor(tasks.length / batchSize));
  const epoch = Math.floor(step / perEpoch);
  const order = rng.fork(`epoch-${epoch}`).shuffle(tasks.map((_, i) => i));
  const at = (step % perEpoch) * batchSize;
  return order.slice(at, at + Math.min(batchSize, tasks.length)).map((i) => tasks[i] as T);
}

/** Reporting only: 1 or 0 against the task's hidden true answer (0 without an answer), null when it has none. */
export async function trueScore(
  verifier: Pick<Verifier, 'extract' | 'equivalent'>,
  task: Task,
  text: string,
): Promise<number | null> {
  const ans = verifier.extract(text);
  return task.trueAnswer === undefined || ans === null
    ? task.trueAnswer === undefined
      ? null
      : 0
    : (await verifier.equivalent(task.trueAnswer, ans))
      ? 1
      : 0;
}

/**
 * Agent0 step 4: ADPO (or any recipe-chosen algorithm) on multi-turn tool-integrated rollouts,
 * rewarded by agreement with the pseudo-label; the task's self-consistency travels as a field.
 */
export const executorTrain = defineComponent({
  kind: 'stage',
  name: 'executor-train',
  description: 'trains the executor on curated tasks with pseudo-labels (ADPO by default; Agent0 step 4)',
  options: {
    type: 'object',
    additionalProperties: false,
    properties: {
      executor: ref('policy', 'the executor policy (trained here)', 'executor'),
      executorEngine: engineRef('executor'),
      executorLoop: optionalRef('agent-loop', 'agent loop (null: single-turn, no tools)', 'executor_loop'),
      reward: ref('reward', 'outcome reward against the pseudo-label', 'executor_reward'),
      verifier: ref('verifier', 'checks answers against the hidden true answers (reporting only)', 'verifier'),
      from: { type: 'string', default: 'curate', description: 'stage whose tasks.jsonl to train on' },
      executorPrompt: { type: 'string', default: 'Problem: {problem}\nSolution:\n' },
      chat: { type: 'boolean', default: false },
      steps: { type: 'integer', minimum: 0, default: 8 },
      batchSize: { type: 'integer', minimum: 1, default: 8, description: 'tasks per step' },
      n: { type: 'integer', minimum: 1, default: 8, description: 'rollouts per task (group size)' },
      rolloutBatch: { type: 'integer', minimum: 1, default: 64 },
      stop: { type: 'array', items: { type: 'string' }, default: [] },
      dynamicSampling: { type: 'boolean', default: false, description: 'drop groups with equal rewards (DAPO)' },
      sampling: samplingSchema({ temperature: 1.0, maxNewTokens: 160 }),
      checkpointEvery: { type: 'integer', minimum: 1, default: 1 },
      ...rlSchema,
    },
  },
  create: (o): PipelineStage => ({
    async run(ctx) {
      const executor = await ctx.get(o.executor, 'policy');
      const tasks = await ctx.artifactsOf(o.from).readJsonl<Task>(TASKS);
      if (tasks.length === 0 || o.steps === 0) {
        ctx.log.warn(`no curated tasks in ${o.from}: the executor is not trained this iteration`);
        await commitPolicy(ctx, o.executor, executor);
        return { summary: { steps: 0, tasks: 0 } };
      }
      const loop = o.executorLoop ? await ctx.get(o.executorLoop, 'agent-loop') : undefined;
      const engine = await engineFor(ctx, executor, o.executorEngine);
      const reward = await ctx.get(o.reward, 'reward');
      const verifier = await ctx.get(o.verifier, 'verifier');
      const reference = o.kl ? await executor.snapshot() : undefined;
      const start = await resumeSteps(ctx, executor, 'executor-train');
      const progress = ctx.progress(`iter ${ctx.iteration} executor-train`, o.steps, 'step');
      let last: Record<string, number> = {};
      try {
        for (let step = start; step < o.steps; step++) {
          ctx.signal.throwIfAborted();
          const pick = stepTasks(tasks, o.batchSize, step, ctx.rng);
          const requests: AgentRequest[] = pick.flatMap((t) => {
            const promptIds = encodePrompt(executor.tokenizer, fill(o.executorPrompt, { problem: t.problem }), o.chat);
            return Array.from({ length: o.n }, (_, j) => ({
              id: `${t.id}-s${step}-${j}`,
              groupId: t.id,
              promptIds,
              fields: { ...(t.fields ?? {}) },
            }));
          });
          const seed = ctx.rng.fork(`step-${step}`).seedInt();
          const trajs = await rolloutChunked(
            engine,
            loop,
            requests,
            toSampling(o.sampling, seed, loop ? undefined : o.stop),
            o.rolloutBatch,
            undefined,
            ctx.signal,
          );
          const taskOf = new Map(pick.map((t) => [t.id, t]));
          const samples: RewardSample[] = trajs.map((t) => ({
            response: t.text,
            task: taskOf.get(t.groupId) as Task,
            trajectory: t,
            fields: t.fields,
          }));
          let rewards = (await reward.score(samples)).map((r) => r.reward);
          const informative = informativeGroups(trajs, rewards);
          if (o.dynamicSampling) rewards = rewards.map((r, i) => (informative[i] ? r : null));
          const upd = await rlUpdate(ctx, executor, reference, trajs, rewards, o);
          const truth = await Promise.all(trajs.map((t) => trueScore(verifier, taskOf.get(t.groupId) as Task, t.text)));
          const known = truth.filter((x): x is number => x !== null);
          last = {
            reward: mean(rewards.filter((r): r is number => r !== null)),
            informativeGroups: informative.filter(Boolean).length / Math.max(1, trajs.length),
            toolCalls: mean(trajs.map((t) => t.toolCalls)),
            responseTokens: mean(trajs.map((t) => t.responseIds.length)),
            ...(known.length > 0 ? { trueAccuracy: mean(known) } : {}),
            ...upd,
          };
          await ctx.metrics.log({ stage: 'executor-train', iteration: ctx.iteration, step, ...last });
          if ((step + 1) % o.checkpointEvery === 0 || step + 1 === o.steps) {
            await syncEngine(ctx, engine, executor, await saveStep(ctx, executor, step + 1));
          }
          progress.tick(1, { reward: last.reward ?? 0, tools: last.toolCalls ?? 0 });
        }
      } finally {
        await reference?.dispose();
      }
      progress.done();
      await commitPolicy(ctx, o.executor, executor);
      return { summary: { steps: o.steps, tasks: tasks.length, ...last } };
    },
  }),
});
