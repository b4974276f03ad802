import type {
  AgentLoop,
  AgentRequest,
  Completion,
  RolloutEngine,
  SamplingParams,
  Tokenizer,
  Trajectory,
} from '../../core/index.js';
import type { ChoiceResult, Turn } from './response.js';

/** The turns of a trajectory: maximal runs of model tokens (mask 1) and observation tokens (mask 0). */
export function splitTurns(t: Trajectory, tok: Tokenizer): Turn[] {
  const turns: Turn[] = [];
  let start = 0;
  for (let i = 1; i <= t.responseIds.length; i++) {
    if (i === t.responseIds.length || t.responseMask[i] !== t.responseMask[start]) {
      turns.push({
        role: t.responseMask[start] === 1 ? 'assistant' : 'tool',
        content: tok.decode(t.responseIds.slice(start, i)),
      });
      start = i;
    }
  }
  return turns;
}

function asChoice(t: Trajectory, tok: Tokenizer): ChoiceResult {
  // The end-of-sequence token is not part of the last turn's text (as in a plain answer).
  const last = t.responseIds.at(-1);
  const eosLast = t.stopReason === 'eos' && last !== undefined && tok.eosIds.includes(last);
  const shown = eosLast
    ? { ...t, responseIds: t.responseIds.slice(0, -1), responseMask: t.responseMask.slice(0, -1) }
    : t;
  const finishReason: Completion['finishReason'] =
    t.stopReason === 'length' || t.stopReason === 'max_turns' ? 'length' : t.stopReason === 'abort' ? 'abort' : 'eos';
  const completion: Completion = {
    tokenIds: t.responseIds,
    text: t.text,
    // Observation tokens were not sampled: they have no log-prob to report.
    logProbs: t.logProbs.map((lp, i) => (t.responseMask[i] === 1 ? lp : NaN)),
    finishReason,
  };
  return {
    completion,
    turns: splitTurns(shown, tok),
    agent: { stop_reason: t.stopReason, turns: t.turns, tool_calls: t.toolCalls, tool_errors: t.toolErrors },
  };
}

/** Runs every sample of a tool-mode request through the recipe's agent loop; results in request order. */
export async function runToolMode(
  loop: AgentLoop,
  engine: RolloutEngine,
  requestId: string,
  prompts: number[][],
  n: number,
  sampling: SamplingParams,
  signal: AbortSignal,
): Promise<ChoiceResult[]> {
  const reqs: AgentRequest[] = prompts.flatMap((promptIds, i) =>
    Array.from({ length: n }, (_, j) => ({ id: `${requestId}-${i}-${j}`, groupId: `${requestId}-${i}`, promptIds })),
  );
  const trajs = await loop.run(engine, reqs, sampling, { signal });
  const byId = new Map(trajs.map((t) => [t.id, t]));
  return reqs.map((r) => {
    const t = byId.get(r.id);
    if (!t) throw new Error(`the agent loop returned no trajectory for ${r.id}`);
    return asChoice(t, engine.tokenizer);
  });
}
