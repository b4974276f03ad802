import type { RolloutEngine, SamplingParams } from './policy.js';
import type { SampleFields } from './fields.js';

export type StopReason = 'answer' | 'eos' | 'max_turns' | 'length' | 'invalid_action' | 'tool_error' | 'abort';

/** One multi-turn tool-integrated rollout, token in / token out. */
export interface Trajectory {
  id: string;
  /** Groups samples of the same prompt (GRPO groups). */
  groupId: string;
  promptIds: number[];
  /** Everything after the prompt: model tokens and observation tokens, in order. */
  responseIds: number[];
  /** [responseIds.length] 1 where the model generated the token, 0 for observations (never trained). */
  responseMask: number[];
  /** [responseIds.length] sampling log-probs of model tokens; 0 at observation tokens. */
  logProbs: number[];
  /** Decoded response (model text and observations). */
  text: string;
  stopReason: StopReason;
  turns: number;
  toolCalls: number;
  toolErrors: number;
  fields: SampleFields;
  metrics: Record<string, number>;
}

export interface AgentRequest {
  /** Stable id; tools key their per-trajectory state on it. */
  id: string;
  groupId: string;
  promptIds: number[];
  fields?: SampleFields;
  extra?: Record<string, unknown>;
}

/** Multi-turn tool-integrated rollout over any RolloutEngine. */
export interface AgentLoop {
  run(
    engine: RolloutEngine,
    requests: AgentRequest[],
    sampling: SamplingParams,
    opts?: { signal?: AbortSignal },
  ): Promise<Trajectory[]>;
}
