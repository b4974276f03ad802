import {
  defineComponent,
  type OptionsOf,
  type RewardFunction,
  type RewardResult,
  type RewardSample,
  type Verifier,
} from '../../../core/index.js';

export const outcomeSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    verifier: {
      type: 'string',
      'x-ref': 'verifier',
      default: 'verifier',
      description: 'verifier instance that extracts and compares answers',
    },
    correct: { type: 'number', default: 1, description: 'reward when the extracted answer equals task.answer' },
    wrong: { type: 'number', default: -1, description: 'reward when an answer was found but differs' },
    unparsable: { type: 'number', default: -1, description: 'reward when no answer could be extracted' },
    missingReference: {
      enum: ['drop', 'wrong'],
      default: 'drop',
      description: 'a task without answer: drop the sample (null) or score it as wrong',
    },
    tailChars: {
      type: ['integer', 'null'],
      minimum: 1,
      default: null,
      description:
        'verify only the last N characters of the response (the Agent0 solver reward uses 300); null: all of it',
    },
    formatPattern: {
      type: ['string', 'null'],
      default: null,
      description: 'a regular expression (flags "s") the response must match, else formatFailure',
    },
    allowedStopReasons: {
      type: ['array', 'null'],
      items: { enum: ['answer', 'eos', 'max_turns', 'length', 'invalid_action', 'tool_error', 'abort'] },
      default: null,
      description: 'trajectory stop reasons that pass the format check (null: any)',
    },
    formatFailure: {
      type: 'number',
      default: -1,
      description: 'reward when a format check fails (overrides correctness)',
    },
    toolErrorPenalty: {
      type: 'number',
      minimum: 0,
      default: 0,
      description: 'subtracted when the trajectory had a failing tool call (ToRL uses 0.5)',
    },
  },
} as const;

export type OutcomeOptions = OptionsOf<typeof outcomeSchema>;

/**
 * Verifier-checked outcome reward against task.answer (a reference or a pseudo-label), ToRL-style:
 * correct / wrong / unparsable values, optional format checks and a tool-error penalty.
 */
export class OutcomeReward implements RewardFunction {
  private readonly pattern: RegExp | null;

  constructor(
    private readonly verifier: Verifier,
    private readonly o: OutcomeOptions,
  ) {
    try {
      this.pattern = o.formatPattern === null ? null : new RegExp(o.formatPattern, 's');
    } catch (e) {
      throw new Error(`reward/outcome: formatPattern is not a valid regular expression: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  async score(batch: RewardSample[]): Promise<RewardResult[]> {
    return Promise.all(batch.map((s) => this.one(s)));
  }

  private async one(s: RewardSample): Promise<RewardResult> {
    const gold = s.task.answer;
    const formatOk =
      (this.pattern === null || this.pattern.test(s.response)) &&
      (this.o.allowedStopReasons === null ||
        s.trajectory === undefined ||
        this.o.allowedStopReasons.includes(s.trajectory.stopReason));
    const toolErrors = s.trajectory?.toolErrors ?? 0;
    const penalty = toolErrors > 0 ? this.o.toolErrorPenalty : 0;
    if (gold === undefined || gold === null) {
      if (this.o.missingReference === 'drop') return { reward: null, parts: { format: formatOk ? 1 : 0 } };
    }
    const text = this.o.tailChars === null ? s.response : s.response.slice(-this.o.tailChars);
    const { correct, extracted } =
      gold === undefined || gold === null
        ? { correct: false, extracted: this.verifier.extract(text) }
        : await this.verifier.verify(gold, text);
    const base = !formatOk
      ? this.o.formatFailure
      : extracted === null
        ? this.o.unparsable
        : correct
          ? this.o.correct
          : this.o.wrong;
    return {
      reward: base - penalty,
      parts: {
        correct: correct ? 1 : 0,
        parsed: extracted === null ? 0 : 1,
        format: formatOk ? 1 : 0,
        toolErrorPenalty: penalty,
      },
    };
  }
}

export const outcomeReward = defineComponent({
  kind: 'reward',
  name: 'outcome',
  description:
    'verifier-checked answer vs task.answer (reference or pseudo-label): correct / wrong / unparsable values, optional format checks',
  options: outcomeSchema,
  create: async (o, ctx) => new OutcomeReward(await ctx.get(o.verifier, 'verifier'), o),
});
