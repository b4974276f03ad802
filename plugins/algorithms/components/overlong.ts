import { defineComponent } from '../../../core/index.js';
import type {
  ComponentDefinition,
  OptionsOf,
  RewardFunction,
  RewardResult,
  RewardSample,
} from '../../../core/index.js';
import { overlongPenalty } from '../math/dapo.js';

const overlongSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    max_length: {
      type: 'integer',
      minimum: 1,
      default: 20480,
      description: 'L_max: the response budget in tokens (DAPO: 20480)',
    },
    buffer_length: {
      type: 'integer',
      minimum: 1,
      default: 4096,
      description: 'L_cache: length of the ramp before L_max (DAPO: 4096); the expected length is L_max - L_cache',
    },
    penalty_factor: { type: 'number', minimum: 0, default: 1, description: 'the penalty at and beyond L_max' },
    count: {
      enum: ['model', 'all'],
      default: 'model',
      description: "'model': generated tokens only (tool observations excluded); 'all': every response token",
    },
  },
} as const;
type OverlongOptions = OptionsOf<typeof overlongSchema>;

/** Response length in tokens: model tokens only (observations were not generated) or every response token. */
function responseLength(s: RewardSample, count: OverlongOptions['count']): number {
  const t = s.trajectory;
  if (!t) throw new Error('reward/overlong needs RewardSample.trajectory (the response length is counted in tokens)');
  return count === 'all' ? t.responseIds.length : t.responseMask.reduce((a, m) => a + (m > 0 ? 1 : 0), 0);
}

/**
 * DAPO's soft overlong punishment as a reward term (combine it with the task reward through
 * reward/sum): 0 up to L_max - L_cache tokens, then a linear ramp to -penalty_factor at L_max,
 * -penalty_factor beyond.
 */
export const overlongRewardComponents: ComponentDefinition[] = [
  defineComponent({
    kind: 'reward',
    name: 'overlong',
    description:
      'DAPO soft overlong punishment: 0 below max_length - buffer_length tokens, ramping to -penalty_factor at max_length (add it to the task reward with reward/sum)',
    options: overlongSchema,
    create: (o): RewardFunction => {
      if (o.buffer_length > o.max_length)
        throw new Error(`reward/overlong: buffer_length (${o.buffer_length}) exceeds max_length (${o.max_length})`);
      return {
        score: (batch: RewardSample[]): Promise<RewardResult[]> =>
          Promise.resolve(
            batch.map((s) => {
              const length = responseLength(s, o.count);
              return {
                reward: overlongPenalty(length, {
                  maxLength: o.max_length,
                  cacheLength: o.buffer_length,
                  factor: o.penalty_factor,
                }),
                parts: { length },
              };
            }),
          ),
      };
    },
  }),
];
