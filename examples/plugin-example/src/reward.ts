import { defineComponent, type OptionsOf, type RewardFunction, type RewardResult, type RewardSample } from 'agent0';

/** Written once, in the schema: the type is inferred from it. */
export type LengthPenaltyOptions = OptionsOf<typeof lengthPenaltySchema>;

/** reward = -coef · max(0, characters - budget); scores a whole batch at once, as every reward does. */
export class LengthPenalty implements RewardFunction {
  constructor(private readonly o: LengthPenaltyOptions) {}

  async score(batch: RewardSample[]): Promise<RewardResult[]> {
    return batch.map((s) => {
      const over = Math.max(0, s.response.length - this.o.budget);
      return { reward: -this.o.coef * over, parts: { overBudget: over } };
    });
  }
}

export const lengthPenaltySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['budget'],
  properties: {
    budget: { type: 'integer', minimum: 0, description: 'characters allowed for free' },
    coef: { type: 'number', minimum: 0, default: 0.01, description: 'penalty per character over the budget' },
  },
} as const;

export const lengthPenalty = defineComponent({
  kind: 'reward',
  name: 'length-penalty',
  description: 'reward = -coef * max(0, characters - budget)',
  options: lengthPenaltySchema,
  create: (o) => new LengthPenalty(o),
});
