import type { AgentLoop, AgentRequest, RolloutEngine, SamplingParams, Trajectory } from '../../core/index.js';

/**
 * Runs requests through the agent loop, or — with no loop (single-turn ablations, curation
 * without tools) — one plain generation per request, in the same Trajectory shape.
 */
export async function rollout(
  engine: RolloutEngine,
  loop: AgentLoop | undefined,
  requests: AgentRequest[],
  sampling: SamplingParams,
  signal?: AbortSignal,
): Promise<Trajectory[]> {
  if (requests.length === 0) return [];
  if (loop) return loop.run(engine, requests, sampling, { signal });
  const out = await engine.generate(
    requests.map((r) => r.promptIds),
    sampling,
    { signal, affinityKeys: requests.map((r) => r.id), sampleKeys: requests.map((r) => r.id) },
  );
  return out.map((c, i) => {
    const r = requests[i] as AgentRequest;
    return {
      id: r.id,
      groupId: r.groupId,
      promptIds: r.promptIds,
      responseIds: c.tokenIds,
      responseMask: c.tokenIds.map(() => 1),
      logProbs: c.logProbs,
      text: c.text,
      stopReason: c.finishReason === 'length' ? 'length' : c.finishReason === 'abort' ? 'abort' : 'eos',
      turns: 1,
      toolCalls: 0,
      toolErrors: 0,
      fields: { ...(r.fields ?? {}) },
      metrics: {},
    };
  });
}

/** Splits `items` into chunks of at most `size` (rollouts are batched to bound memory). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Rollouts in chunks of `batchSize` requests, with a progress callback per chunk. */
export async function rolloutChunked(
  engine: RolloutEngine,
  loop: AgentLoop | undefined,
  requests: AgentRequest[],
  sampling: SamplingParams,
  batchSize: number,
  onChunk?: (done: number) => void,
  signal?: AbortSignal,
): Promise<Trajectory[]> {
  const out: Trajectory[] = [];
  for (const c of chunks(requests, batchSize)) {
    signal?.throwIfAborted();
    out.push(
      ...(await rollout(
        engine,
        loop,
        c,
        { ...sampling, seed: sampling.seed === undefined ? undefined : sampling.seed + out.length },
        signal,
      )),
    );
    onChunk?.(c.length);
  }
  return out;
}
