import type { OptionsOf, SamplingParams } from '../../core/index.js';

/** Sampling defaults of a stage that sets none of its own. */
const SAMPLING_DEFAULTS = { temperature: 1.0, topP: 1.0, topK: 0, maxNewTokens: 128 };

/** A stage's sampling options, with that stage's defaults. */
export function samplingSchema(d: Partial<typeof SAMPLING_DEFAULTS> = {}) {
  return {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      temperature: { type: 'number', minimum: 0, default: d.temperature ?? SAMPLING_DEFAULTS.temperature },
      topP: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: d.topP ?? SAMPLING_DEFAULTS.topP },
      topK: { type: 'integer', minimum: 0, default: d.topK ?? SAMPLING_DEFAULTS.topK, description: '0 disables top-k' },
      maxNewTokens: { type: 'integer', minimum: 1, default: d.maxNewTokens ?? SAMPLING_DEFAULTS.maxNewTokens },
    },
  } as const;
}

export type SamplingOptions = OptionsOf<ReturnType<typeof samplingSchema>>;

export function toSampling(o: SamplingOptions, seed: number, stop?: string[]): SamplingParams {
  return {
    temperature: o.temperature,
    topP: o.topP,
    topK: o.topK || undefined,
    maxNewTokens: o.maxNewTokens,
    seed,
    stop,
  };
}

/** The name of another instance of the recipe, of this kind; required unless it has a default. */
export function ref(
  kind: string,
  description: string,
): { readonly type: 'string'; readonly 'x-ref': string; readonly description: string };
export function ref(
  kind: string,
  description: string,
  dflt: string,
): { readonly type: 'string'; readonly 'x-ref': string; readonly description: string; readonly default: string };
export function ref(kind: string, description: string, dflt?: string) {
  return { type: 'string', 'x-ref': kind, description, ...(dflt === undefined ? {} : { default: dflt }) };
}
/** A reference that may be null (the piece is then left out). */
export const optionalRef = (kind: string, description: string, dflt: string | null = null) =>
  ({ type: ['string', 'null'], 'x-ref': kind, default: dflt, description }) as const;

/** A remote engine that generates in place of a policy (the policy still trains in-process). */
export const engineRef = (role: string) =>
  ({
    type: ['string', 'null'],
    'x-ref': 'rollout',
    default: null,
    description: `rollout engine that generates for the ${role} (e.g. rollout/openai on vLLM / SGLang servers); null: the ${role} policy itself`,
  }) as const;

/** The RL update's pieces, shared by the curriculum and executor training stages. */
export const rlSchema = {
  advantage: ref('advantage', 'advantage estimator instance', 'advantage'),
  loss: ref('policy-loss', 'policy loss instance', 'policy_loss'),
  lossAgg: ref('loss-agg', 'loss aggregation instance', 'loss_agg'),
  kl: optionalRef('kl', 'KL penalty instance (null: no KL loss term)', 'kl'),
  klCoef: { type: 'number', minimum: 0, default: 0.01 },
  microBatchSize: {
    type: 'integer',
    minimum: 1,
    default: 16,
    description: 'rows per forward/backward pass (gradient accumulation)',
  },
  miniBatchSize: {
    type: ['integer', 'null'],
    minimum: 1,
    default: null,
    description:
      'rows per optimizer step (VeRL ppo_mini_batch_size); several steps per batch let the clip act; null: one step per batch',
  },
  ppoEpochs: { type: 'integer', minimum: 1, default: 1 },
  entropyCoef: { type: 'number', minimum: 0, default: 0 },
} as const;

export type RlOptions = OptionsOf<{
  readonly type: 'object';
  readonly additionalProperties: false;
  readonly properties: typeof rlSchema;
}>;
