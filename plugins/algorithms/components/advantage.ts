import type * as tf from '@tensorflow/tfjs';
import { defineComponent, MissingFieldError } from '../../../core/index.js';
import type { AdvantageEstimator, AdvantageInput, ComponentDefinition } from '../../../core/index.js';
import {
  adpoAdvantage,
  grpoAdvantage,
  reinforcePlusPlusAdvantage,
  reinforcePlusPlusBaselineAdvantage,
  rlooAdvantage,
} from '../math/advantage.js';
import { ADPO_DEFAULTS } from '../math/adpo-defaults.js';
import { adpoScaleOptions, type AdpoScale, checkScaleRange } from './adpo-options.js';

/** The column `field` of the batch, or MissingFieldError naming the first row without it. */
export function requireField(
  input: { fields: Record<string, ArrayLike<number>> },
  field: string,
  component: string,
  rows: number,
): ArrayLike<number> {
  const col = input.fields[field];
  if (!col) throw new MissingFieldError(field, component, 0);
  if (col.length !== rows) throw new Error(`${component}: field '${field}' has ${col.length} rows, batch ${rows}`);
  for (let i = 0; i < rows; i++) if (Number.isNaN(col[i])) throw new MissingFieldError(field, component, i);
  return col;
}

/** advantage/adpo's instance: an estimator that also tells its scale's field, s_lo and s_hi. */
export interface AdpoAdvantage extends AdvantageEstimator {
  readonly adpoScale: AdpoScale;
}

export function isAdpoAdvantage(x: unknown): x is AdpoAdvantage {
  return typeof x === 'object' && x !== null && 'adpoScale' in x;
}

function checkShapes(input: AdvantageInput, component: string): void {
  const B = input.responseMask.shape[0];
  if (input.rewards.length !== B || input.groupIds.length !== B) {
    throw new Error(
      `${component}: rewards (${input.rewards.length}) and groupIds (${input.groupIds.length}) must have one entry per mask row (${B})`,
    );
  }
}

function estimator(
  id: string,
  requiredFields: string[],
  compute: (input: AdvantageInput) => tf.Tensor2D,
): AdvantageEstimator {
  return {
    requiredFields,
    compute: (input) => {
      checkShapes(input, id);
      return compute(input);
    },
  };
}

const epsilonOpt = (d: number) =>
  ({
    type: 'number',
    minimum: 0,
    default: d,
    description: 'added to the std (or inside the sqrt when whitening)',
  }) as const;

export const advantageComponents: ComponentDefinition[] = [
  defineComponent({
    kind: 'advantage',
    name: 'grpo',
    description: 'GRPO: (r - group mean) / (unbiased group std + eps); a group of one has mean 0, std 1',
    options: {
      type: 'object',
      additionalProperties: false,
      properties: { norm_adv_by_std_in_grpo: { type: 'boolean', default: true }, epsilon: epsilonOpt(1e-6) },
    },
    create: (o) =>
      estimator('advantage/grpo', [], (i) =>
        grpoAdvantage(i.rewards, i.groupIds, i.responseMask, {
          normByStd: o.norm_adv_by_std_in_grpo,
          epsilon: o.epsilon,
        }),
      ),
  }),
  defineComponent({
    kind: 'advantage',
    name: 'drgrpo',
    description: 'Dr. GRPO: r - group mean, no std normalisation (pair with loss-agg/seq-mean-token-sum-norm)',
    options: { type: 'object', additionalProperties: false, properties: {} },
    create: () =>
      estimator('advantage/drgrpo', [], (i) =>
        grpoAdvantage(i.rewards, i.groupIds, i.responseMask, { normByStd: false }),
      ),
  }),
  defineComponent({
    kind: 'advantage',
    name: 'rloo',
    description: 'RLOO: r - mean of the other samples of the group (a group of one keeps r)',
    options: { type: 'object', additionalProperties: false, properties: {} },
    create: () => estimator('advantage/rloo', [], (i) => rlooAdvantage(i.rewards, i.groupIds, i.responseMask)),
  }),
  defineComponent({
    kind: 'advantage',
    name: 'reinforce_plus_plus',
    description: 'REINFORCE++: discounted return over model tokens (observations skipped), whitened over the batch',
    options: {
      type: 'object',
      additionalProperties: false,
      properties: {
        gamma: {
          type: 'number',
          minimum: 0,
          maximum: 1,
          default: 1,
          description: 'discount per model token (a gamma given to the RL step wins)',
        },
        epsilon: epsilonOpt(1e-8),
        at_masked: {
          enum: ['skip', 'reset'],
          default: 'skip',
          description:
            "tokens off the mask (tool observations): 'skip' passes the return through them; 'reset' zeroes it there as VeRL does (earlier turns then get return 0)",
        },
      },
    },
    create: (o) =>
      estimator('advantage/reinforce_plus_plus', [], (i) =>
        reinforcePlusPlusAdvantage(i.rewards, i.responseMask, {
          gamma: i.gamma ?? o.gamma,
          epsilon: o.epsilon,
          atMasked: o.at_masked,
        }),
      ),
  }),
  defineComponent({
    kind: 'advantage',
    name: 'reinforce_plus_plus_baseline',
    description: 'REINFORCE++-baseline: r - group mean on every model token, whitened over the batch',
    options: { type: 'object', additionalProperties: false, properties: { epsilon: epsilonOpt(1e-8) } },
    create: (o) =>
      estimator('advantage/reinforce_plus_plus_baseline', [], (i) =>
        reinforcePlusPlusBaselineAdvantage(i.rewards, i.groupIds, i.responseMask, { epsilon: o.epsilon }),
      ),
  }),
  defineComponent({
    kind: 'advantage',
    name: 'adpo',
    description:
      "ADPO: GRPO advantage scaled by a_min + (1 - a_min)·clip((s - s_lo)/(s_hi - s_lo), 0, 1) of the task's self-consistency s",
    options: {
      type: 'object',
      additionalProperties: false,
      properties: {
        field: adpoScaleOptions.field,
        s_lo: adpoScaleOptions.s_lo,
        s_hi: adpoScaleOptions.s_hi,
        a_min: {
          type: 'number',
          minimum: 0,
          maximum: 1,
          default: ADPO_DEFAULTS.aMin,
          description: 'Agent0 script 0.6; the code default is 0.5',
        },
        norm_adv_by_std_in_grpo: { type: 'boolean', default: true },
        epsilon: epsilonOpt(1e-6),
      },
    },
    create: (o): AdpoAdvantage => {
      checkScaleRange('advantage/adpo', o);
      const est = estimator('advantage/adpo', [o.field], (i) => {
        const s = requireField(i, o.field, 'advantage/adpo', i.rewards.length);
        return adpoAdvantage(i.rewards, i.groupIds, i.responseMask, s, {
          sLo: o.s_lo,
          sHi: o.s_hi,
          aMin: o.a_min,
          normByStd: o.norm_adv_by_std_in_grpo,
          epsilon: o.epsilon,
        });
      });
      // read by a policy-loss/adpo whose `advantage` option names this instance
      return { ...est, adpoScale: Object.freeze({ field: o.field, s_lo: o.s_lo, s_hi: o.s_hi }) };
    },
  }),
];
