import {
  defineComponent,
  type OptionsOf,
  type RewardFunction,
  type RewardResult,
  type RewardSample,
} from '../../../core/index.js';

export const toolUseSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    weight: { type: 'number', default: 0.05, description: 'reward per tool call (Agent0 code: 0.05)' },
    cap: { type: 'integer', minimum: 0, default: 4, description: 'calls beyond this many earn nothing (Agent0: 4)' },
    count: {
      enum: ['auto', 'trajectory', 'text'],
      default: 'auto',
      description:
        'where calls are counted: trajectory.toolCalls, occurrences of `pattern` in the response, or the trajectory when there is one',
    },
    pattern: {
      type: 'string',
      minLength: 1,
      default: '```output',
      description: 'literal marker counted in the text (the sandbox observation fence, as the Agent0 code counts)',
    },
  },
} as const;

export type ToolUseOptions = OptionsOf<typeof toolUseSchema>;

/** Counts non-overlapping occurrences of a literal string (Python's str.count). */
export function countOccurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** Tool calls of one sample, from its trajectory or its text as `count` says. */
export function toolCallsOf(s: RewardSample, count: ToolUseOptions['count'], pattern: string): number {
  if (count === 'trajectory' || (count === 'auto' && s.trajectory)) {
    if (!s.trajectory) throw new Error('reward/tool-use: count "trajectory" needs RewardSample.trajectory');
    return s.trajectory.toolCalls;
  }
  return countOccurrences(s.response, pattern);
}

/** R_tool = weight * min(N_tool, cap). */
export function toolReward(calls: number, weight: number, cap: number): number {
  return weight * Math.min(calls, cap);
}

export class ToolUseReward implements RewardFunction {
  constructor(private readonly o: ToolUseOptions) {}

  score(batch: RewardSample[]): Promise<RewardResult[]> {
    return Promise.resolve(
      batch.map((s) => {
        const calls = toolCallsOf(s, this.o.count, this.o.pattern);
        return { reward: toolReward(calls, this.o.weight, this.o.cap), parts: { toolCalls: calls } };
      }),
    );
  }
}

export const toolUseReward = defineComponent({
  kind: 'reward',
  name: 'tool-use',
  description: 'weight x min(tool calls, cap)',
  options: toolUseSchema,
  create: (o) => new ToolUseReward(o),
});
