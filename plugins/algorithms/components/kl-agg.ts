import { defineComponent } from '../../../core/index.js';
import type { ComponentDefinition, KlPenalty, LossAggregator } from '../../../core/index.js';
import { klPenalty, KL_TYPES } from '../math/kl.js';
import { aggregateLoss, aggregationWeights, LOSS_AGG_MODES, type LossAggMode } from '../math/loss-agg.js';

const KL_DESCRIPTIONS: Record<string, string> = {
  k1: 'k1 KL estimate: logp - ref',
  abs: 'abs KL estimate: |logp - ref|',
  k2: 'k2 KL estimate: (logp - ref)^2 / 2',
  mse: 'alias of k2: (logp - ref)^2 / 2',
  k3: 'k3 KL estimate: exp(ref - logp) - (ref - logp) - 1, clamped to [-10, 10]',
  low_var_kl: 'alias of k3 (low-variance KL), clamped to [-10, 10]',
};

const empty = { type: 'object', additionalProperties: false, properties: {} } as const;
const horizonOptions = {
  type: 'object',
  additionalProperties: false,
  properties: {
    horizon: {
      type: 'integer',
      nullable: true,
      minimum: 1,
      default: null,
      description: 'constant length C (null: the padded length T)',
    },
  },
} as const;

export const klComponents: ComponentDefinition[] = KL_TYPES.flatMap((t) => [t, `${t}+`]).map((name) =>
  defineComponent({
    kind: 'kl',
    name,
    description: name.endsWith('+')
      ? `${KL_DESCRIPTIONS[name.slice(0, -1)]}, with the k2 gradient (straight-through)`
      : KL_DESCRIPTIONS[name],
    options: empty,
    create: (): KlPenalty => ({ compute: (logp, ref) => klPenalty(name, logp, ref), wireType: name }),
  }),
);

const AGG_DESCRIPTIONS: Record<LossAggMode, string> = {
  'token-mean': 'mean over all response tokens of the batch',
  'seq-mean-token-sum': 'mean over sequences (those with tokens) of the per-sequence token sum',
  'seq-mean-token-mean': 'mean over sequences (those with tokens) of the per-sequence token mean',
  'seq-mean-token-sum-norm': "the batch's token sum divided by a constant horizon C, as verl (Dr. GRPO)",
};

function aggregator(mode: LossAggMode, horizon: number | null): LossAggregator {
  return {
    aggregate: (lossMat, mask, norm) => aggregateLoss(mode, lossMat, mask, { norm, horizon }),
    weights: (mask, norm) => aggregationWeights(mode, mask, { norm, horizon }),
  };
}

export const lossAggComponents: ComponentDefinition[] = LOSS_AGG_MODES.map((mode) =>
  mode === 'seq-mean-token-sum-norm'
    ? defineComponent({
        kind: 'loss-agg',
        name: mode,
        description: AGG_DESCRIPTIONS[mode],
        options: horizonOptions,
        create: (o) => aggregator(mode, o.horizon),
      })
    : defineComponent({
        kind: 'loss-agg',
        name: mode,
        description: AGG_DESCRIPTIONS[mode],
        options: empty,
        create: () => aggregator(mode, null),
      }),
);
