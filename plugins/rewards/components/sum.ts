import {
  defineComponent,
  type OptionsOf,
  type RewardFunction,
  type RewardResult,
  type RewardSample,
} from '../../../core/index.js';

export const sumSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['terms'],
  properties: {
    terms: {
      type: 'array',
      minItems: 1,
      description: 'reward instances and their weights',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['reward'],
        properties: {
          reward: { type: 'string', 'x-ref': 'reward', description: 'name of a reward instance' },
          weight: { type: 'number', default: 1 },
        },
      },
    },
    nullAs: {
      enum: ['drop', 'zero'],
      default: 'drop',
      description: 'a term that drops a sample (null): drop it from the sum too, or count it as 0',
    },
  },
} as const;

export type SumOptions = OptionsOf<typeof sumSchema>;

/**
 * Weighted sum of other reward functions (e.g. outcome + tool-use); each term's parts are kept, prefixed with its name.
 */
export class SumReward implements RewardFunction {
  constructor(
    private readonly terms: { name: string; fn: RewardFunction; weight: number }[],
    private readonly nullAs: SumOptions['nullAs'],
  ) {}

  async score(batch: RewardSample[]): Promise<RewardResult[]> {
    const scored = await Promise.all(
      this.terms.map(async (t) => {
        const r = await t.fn.score(batch);
        if (r.length !== batch.length)
          throw new Error(`reward/sum: term '${t.name}' returned ${r.length} results for ${batch.length} samples`);
        return r;
      }),
    );
    return batch.map((_, i) => {
      let total: number | null = 0;
      const parts: Record<string, number> = {};
      this.terms.forEach((t, j) => {
        const r = scored[j]?.[i] as RewardResult;
        for (const [k, v] of Object.entries(r.parts ?? {})) parts[`${t.name}.${k}`] = v;
        if (r.reward === null) {
          if (this.nullAs === 'drop') total = null;
          return;
        }
        parts[t.name] = r.reward;
        if (total !== null) total += t.weight * r.reward;
      });
      return { reward: total, parts };
    });
  }
}

export const sumReward = defineComponent({
  kind: 'reward',
  name: 'sum',
  description: 'weighted sum of other reward instances (e.g. outcome + tool-use)',
  options: sumSchema,
  create: async (o, ctx) => {
    const terms = [];
    for (const t of o.terms) {
      if (t.reward === ctx.name) throw new Error(`reward/sum '${ctx.name}' lists itself as a term`);
      terms.push({ name: t.reward, fn: await ctx.get(t.reward, 'reward'), weight: t.weight });
    }
    return new SumReward(terms, o.nullAs);
  },
});
