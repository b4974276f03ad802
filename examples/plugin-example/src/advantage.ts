import type * as tf from '@tensorflow/tfjs-core';
import {
  defineComponent,
  type OptionsOf,
  MissingFieldError,
  type AdvantageEstimator,
  type AdvantageInput,
} from 'agent0';
import { broadcastScores } from 'agent0/algorithms';

/** Written once, in the schema: the type is inferred from it. */
export type CenteredOptions = OptionsOf<typeof centeredSchema>;

/**
 * A[b, t] = scale · (r_b − mean of r over b's group) · w_b on b's response tokens, 0 elsewhere.
 * Group statistics are a handful of numbers, computed on the host in float64; the [B, T] tensor is
 * built once by agent0's own broadcastScores (0, not −0, off the mask).
 */
export class CenteredAdvantage implements AdvantageEstimator {
  readonly requiredFields: readonly string[];

  constructor(private readonly o: CenteredOptions) {
    this.requiredFields = o.weightField ? [o.weightField] : [];
  }

  compute(input: AdvantageInput): tf.Tensor2D {
    const rows = input.responseMask.shape[0];
    if (input.rewards.length !== rows || input.groupIds.length !== rows) {
      throw new Error(
        `advantage/centered: rewards (${input.rewards.length}) and groupIds (${input.groupIds.length}) need one entry per mask row (${rows})`,
      );
    }
    const weights = this.o.weightField ? input.fields[this.o.weightField] : undefined;
    if (this.o.weightField && !weights) throw new MissingFieldError(this.o.weightField, 'advantage/centered', 0);
    const sums = new Map<string, { sum: number; n: number }>();
    input.groupIds.forEach((g, i) => {
      const s = sums.get(g) ?? { sum: 0, n: 0 };
      s.sum += input.rewards[i] as number;
      s.n += 1;
      sums.set(g, s);
    });
    const scores = input.groupIds.map((g, i) => {
      const { sum, n } = sums.get(g) as { sum: number; n: number };
      return this.o.scale * ((input.rewards[i] as number) - sum / n) * (weights ? (weights[i] as number) : 1);
    });
    return broadcastScores(scores, input.responseMask);
  }
}

export const centeredSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    scale: { type: 'number', exclusiveMinimum: 0, default: 1, description: 'multiplies every advantage' },
    weightField: {
      type: ['string', 'null'],
      default: null,
      description: 'per-sample field (SampleFields) weighting each sample; null for none',
    },
  },
} as const;

export const centeredAdvantage = defineComponent({
  kind: 'advantage',
  name: 'centered',
  description: 'scale * (reward - group mean), optionally times a per-sample weight field',
  options: centeredSchema,
  create: (o) => new CenteredAdvantage(o),
});
