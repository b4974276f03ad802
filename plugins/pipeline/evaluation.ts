import {
  majorityVote,
  type AgentLoop,
  type AgentRequest,
  type Policy,
  type RolloutEngine,
  type Task,
  type Verifier,
} from '../../core/index.js';
import { encodePrompt, fill } from './text.js';
import { rolloutChunked } from './rollouts.js';
import { toSampling } from './schema.js';
import type { EvaluateOptions } from './stages/evaluate.js';

/** What evaluation reads of stage/evaluate's options (written once, in its schema), and the seed. */
export type EvalOptions = Pick<
  EvaluateOptions,
  'executorPrompt' | 'chat' | 'maxNewTokens' | 'k' | 'sampling' | 'rolloutBatch' | 'stop'
> & { seed: number };

export interface EvalItem {
  id: string;
  problem: string;
  answer: string;
  prediction: string | null;
  correct: boolean;
  toolCalls: number;
  turns: number;
  stopReason: string;
  responseTokens: number;
  /** Sampled attempts: correctness of each, and of their majority answer. */
  sampled?: { correct: boolean[]; majorityCorrect: boolean };
  response?: string;
}

export interface EvalSummary {
  items: number;
  accuracy: number;
  toolCallsPerSolution: number;
  toolUseRate: number;
  responseTokens: number;
  meanAtK?: number;
  majAtK?: number;
  k?: number;
}

/** Greedy pass@1 (and sampled mean@k / maj@k) of an engine on labelled tasks, tools on or off. */
export async function evaluateTasks(
  engine: RolloutEngine | Policy,
  loop: AgentLoop | undefined,
  verifier: Verifier,
  tasks: readonly Task[],
  o: EvalOptions,
  onProgress?: (n: number) => void,
  signal?: AbortSignal,
  keepResponses = true,
): Promise<{ items: EvalItem[]; summary: EvalSummary }> {
  const labelled = tasks.filter((t) => t.answer !== undefined || t.trueAnswer !== undefined);
  const gold = (t: Task) => (t.trueAnswer ?? t.answer) as string;
  const prompt = (t: Task) => encodePrompt(engine.tokenizer, fill(o.executorPrompt, { problem: t.problem }), o.chat);
  const greedyReq: AgentRequest[] = labelled.map((t) => ({ id: `eval-${t.id}`, groupId: t.id, promptIds: prompt(t) }));
  const greedy = await rolloutChunked(
    engine,
    loop,
    greedyReq,
    {
      maxNewTokens: o.maxNewTokens,
      temperature: 0,
      seed: o.seed,
      stop: loop ? undefined : o.stop.length ? o.stop : undefined,
    },
    o.rolloutBatch,
    onProgress,
    signal,
  );
  const items: EvalItem[] = [];
  for (const [i, t] of labelled.entries()) {
    const tr = greedy[i];
    if (!tr) continue;
    const pred = verifier.extract(tr.text);
    items.push({
      id: t.id,
      problem: t.problem,
      answer: gold(t),
      prediction: pred,
      correct: pred !== null && (await verifier.equivalent(gold(t), pred)),
      toolCalls: tr.toolCalls,
      turns: tr.turns,
      stopReason: tr.stopReason,
      responseTokens: tr.responseIds.length,
      ...(keepResponses ? { response: tr.text } : {}),
    });
  }
  if (o.k > 0) {
    const req: AgentRequest[] = labelled.flatMap((t) =>
      Array.from({ length: o.k }, (_, j) => ({ id: `evalk-${t.id}-${j}`, groupId: t.id, promptIds: prompt(t) })),
    );
    const sampled = await rolloutChunked(
      engine,
      loop,
      req,
      toSampling(o.sampling, o.seed + 1, loop ? undefined : o.stop.length ? o.stop : undefined),
      o.rolloutBatch,
      undefined,
      signal,
    );
    for (const [i, t] of labelled.entries()) {
      const answers = sampled.slice(i * o.k, (i + 1) * o.k).map((s) => verifier.extract(s.text));
      const correct = await Promise.all(
        answers.map(async (a) => a !== null && (await verifier.equivalent(gold(t), a))),
      );
      const present = answers.filter((a): a is string => a !== null);
      const vote = present.length > 0 ? await majorityVote(verifier, present) : undefined;
      const majorityCorrect = vote?.answer != null && (await verifier.equivalent(gold(t), vote.answer));
      const item = items[i];
      if (item) item.sampled = { correct, majorityCorrect };
    }
  }
  const n = Math.max(1, items.length);
  const summary: EvalSummary = {
    items: items.length,
    accuracy: items.filter((x) => x.correct).length / n,
    toolCallsPerSolution: items.reduce((a, x) => a + x.toolCalls, 0) / n,
    toolUseRate: items.filter((x) => x.toolCalls > 0).length / n,
    responseTokens: items.reduce((a, x) => a + x.responseTokens, 0) / n,
  };
  if (o.k > 0) {
    summary.k = o.k;
    summary.meanAtK =
      items.reduce((a, x) => a + (x.sampled ? x.sampled.correct.filter(Boolean).length / o.k : 0), 0) / n;
    summary.majAtK = items.filter((x) => x.sampled?.majorityCorrect).length / n;
  }
  return { items, summary };
}
