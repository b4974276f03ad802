import * as tf from '@tensorflow/tfjs';
import { defineComponent, MissingFieldError } from '../../../core/index.js';
import type {
  ComponentDefinition,
  PolicyLoss,
  PolicyLossInput,
  PolicyLossOutput,
  PolicyLossWire,
} from '../../../core/index.js';
import { maskedMean, tidyResult } from '../math/masked.js';
import { adpoClipHigh, adpoLoss, gspoLoss, ppoClipLoss, type TokenLoss } from '../math/policy-loss.js';
import { ADPO_DEFAULTS } from '../math/adpo-defaults.js';
import { ADPO_SHARED, adpoScaleOptions, type AdpoScale, checkScaleRange } from './adpo-options.js';
import { isAdpoAdvantage } from './advantage.js';

/**
 * Aggregates the token loss with the input's aggregator, subtracts the entropy bonus
 * (entropy_coeff · aggregated entropy) and reports pg_loss / entropy beside the loss's own metrics.
 */
function finish(id: string, input: PolicyLossInput, tok: TokenLoss, entropyCoeff: number): PolicyLossOutput {
  return tidyResult(() => {
    const pg = input.aggregator.aggregate(tok.lossMat, input.responseMask);
    const metrics: Record<string, tf.Scalar> = { ...tok.metrics, pg_loss: tf.clone(pg) };
    let loss: tf.Scalar = pg;
    if (entropyCoeff !== 0 && !input.entropy) {
      throw new Error(`${id}: entropy_coeff is ${entropyCoeff} but the batch has no entropy (train with needEntropy)`);
    }
    if (input.entropy) {
      metrics.entropy = maskedMean(input.entropy, input.responseMask);
      if (entropyCoeff !== 0)
        loss = tf.sub(
          pg,
          tf.mul(entropyCoeff, input.aggregator.aggregate(input.entropy, input.responseMask)),
        ) as tf.Scalar;
    }
    return { loss, metrics };
  });
}

function fieldValues(input: PolicyLossInput, field: string, id: string): Float32Array {
  const col = input.fields[field];
  if (!col) throw new MissingFieldError(field, id, 0);
  const v = checkedColumn(col.dataSync() as Float32Array, field, id);
  if (v.length !== input.responseMask.shape[0])
    throw new Error(`${id}: field '${field}' has ${v.length} rows, batch ${input.responseMask.shape[0]}`);
  return v;
}

function checkedColumn(v: Float32Array | undefined, field: string, id: string): Float32Array {
  if (!v) throw new MissingFieldError(field, id, 0);
  const bad = v.findIndex((x) => Number.isNaN(x));
  if (bad >= 0) throw new MissingFieldError(field, id, bad);
  return v;
}

const entropyCoeff = {
  type: 'number',
  default: 0,
  description: 'entropy bonus: loss -= entropy_coeff · aggregated entropy',
} as const;
const clipC = {
  type: 'number',
  nullable: true,
  exclusiveMinimum: 1,
  default: null,
  description: 'dual clip c > 1 for A < 0 (null: off)',
} as const;
const nullableClip = { type: 'number', nullable: true, minimum: 0, default: null } as const;
const lowClip = { type: 'number', minimum: 0, exclusiveMaximum: 1 } as const;

const CLIP_METRICS = [
  'pg_clipfrac_high',
  'pg_clipfrac_low',
  'pg_clipfrac_dual',
  'ratio_mean',
  'ratio_min',
  'ratio_max',
  'ppo_kl',
];

/** The loss as data for trainers that compute it themselves (fused path): same bounds, same metrics. */
type Wire = (fields: Readonly<Record<string, Float32Array>>, rows: number) => PolicyLossWire;

function clipWire(
  ratio: 'token' | 'gspo',
  clipLow: number,
  clipHigh: (fields: Readonly<Record<string, Float32Array>>, rows: number) => number[],
  clipRatioC: number | null,
  entropyCoef: number,
  extra: string[] = [],
): Wire {
  return (fields, rows) => ({
    ratio,
    clipLow: new Array<number>(rows).fill(clipLow),
    clipHigh: clipHigh(fields, rows),
    clipRatioC,
    entropyCoef,
    metrics: [...CLIP_METRICS, ...extra],
  });
}

const constant = (v: number) => (_f: Readonly<Record<string, Float32Array>>, rows: number) =>
  new Array<number>(rows).fill(v);

function lossOf(
  id: string,
  requiredFields: string[],
  f: (input: PolicyLossInput) => TokenLoss,
  ent: number,
  wire?: Wire,
): PolicyLoss {
  return {
    requiredFields,
    compute: (input) => tidyResult(() => finish(id, input, f(input), ent)),
    ...(wire ? { wire } : {}),
  };
}

export const policyLossComponents: ComponentDefinition[] = [
  defineComponent({
    kind: 'policy-loss',
    name: 'vanilla',
    description: 'PPO clip as verl: max(-A r, -A clip(r, 1 - eps_low, 1 + eps_high)), dual clip c = 3 for A < 0',
    options: {
      type: 'object',
      additionalProperties: false,
      properties: {
        clip_ratio: { ...lowClip, default: 0.2 },
        clip_ratio_low: { ...nullableClip, exclusiveMaximum: 1, description: 'eps_low (null: clip_ratio)' },
        clip_ratio_high: { ...nullableClip, description: 'eps_high (null: clip_ratio)' },
        // verl's compute_policy_loss_vanilla always applies the dual clip, with clip_ratio_c 3.0 unless set
        clip_ratio_c: { ...clipC, default: 3.0, description: 'dual clip c > 1 for A < 0 (verl: 3.0; null: off)' },
        entropy_coeff: entropyCoeff,
      },
    },
    create: (o) =>
      lossOf(
        'policy-loss/vanilla',
        [],
        (i) =>
          ppoClipLoss(i.logProbs, i.oldLogProbs, i.advantages, i.responseMask, {
            clipLow: o.clip_ratio_low ?? o.clip_ratio,
            clipHigh: o.clip_ratio_high ?? o.clip_ratio,
            clipRatioC: o.clip_ratio_c,
          }),
        o.entropy_coeff,
        clipWire(
          'token',
          o.clip_ratio_low ?? o.clip_ratio,
          constant(o.clip_ratio_high ?? o.clip_ratio),
          o.clip_ratio_c,
          o.entropy_coeff,
        ),
      ),
  }),
  defineComponent({
    kind: 'policy-loss',
    name: 'dapo',
    description: 'DAPO clip-higher: PPO clip with eps_low 0.2, eps_high 0.28 (pair with loss-agg/token-mean)',
    options: {
      type: 'object',
      additionalProperties: false,
      properties: {
        clip_ratio_low: { ...lowClip, default: 0.2 },
        clip_ratio_high: { type: 'number', minimum: 0, default: 0.28 },
        clip_ratio_c: clipC,
        entropy_coeff: entropyCoeff,
      },
    },
    create: (o) =>
      lossOf(
        'policy-loss/dapo',
        [],
        (i) =>
          ppoClipLoss(i.logProbs, i.oldLogProbs, i.advantages, i.responseMask, {
            clipLow: o.clip_ratio_low,
            clipHigh: o.clip_ratio_high,
            clipRatioC: o.clip_ratio_c,
          }),
        o.entropy_coeff,
        clipWire('token', o.clip_ratio_low, constant(o.clip_ratio_high), o.clip_ratio_c, o.entropy_coeff),
      ),
  }),
  defineComponent({
    kind: 'policy-loss',
    name: 'gspo',
    description: 'GSPO: clip on the sequence ratio exp(mean_t log-ratio) (pair with loss-agg/seq-mean-token-mean)',
    options: {
      type: 'object',
      additionalProperties: false,
      properties: {
        clip_ratio_low: { ...lowClip, default: 3e-4 },
        clip_ratio_high: { type: 'number', minimum: 0, default: 4e-4 },
        entropy_coeff: entropyCoeff,
      },
    },
    create: (o) =>
      lossOf(
        'policy-loss/gspo',
        [],
        (i) =>
          gspoLoss(i.logProbs, i.oldLogProbs, i.advantages, i.responseMask, {
            clipLow: o.clip_ratio_low,
            clipHigh: o.clip_ratio_high,
          }),
        o.entropy_coeff,
        clipWire('gspo', o.clip_ratio_low, constant(o.clip_ratio_high), null, o.entropy_coeff),
      ),
  }),
  defineComponent({
    kind: 'policy-loss',
    name: 'adpo',
    description:
      "ADPO: PPO clip with lower 1 - eps and per-sample upper 1 + eps_high(s) from the task's self-consistency s",
    options: {
      type: 'object',
      additionalProperties: false,
      properties: {
        advantage: {
          type: 'string',
          nullable: true,
          // the advantage scale and the upper clip read the same s with the same bounds: written once there
          'x-ref': 'advantage/adpo',
          'x-inherits': ADPO_SHARED,
          default: null,
          description:
            "an advantage/adpo instance whose field, s_lo and s_hi this loss uses (then they are not set here); null: this loss's own",
        },
        field: adpoScaleOptions.field,
        clip_ratio: {
          ...lowClip,
          default: ADPO_DEFAULTS.clipRatio,
          description: 'eps (lower clip, and the upper clip at s >= s_hi)',
        },
        clip_ratio_high_boost: {
          type: 'number',
          minimum: 0,
          default: ADPO_DEFAULTS.clipHighBoost,
          description: 'b: extra upper clip at s <= s_lo (linear form)',
        },
        s_lo: adpoScaleOptions.s_lo,
        s_hi: adpoScaleOptions.s_hi,
        clip_high_form: {
          enum: ['linear', 'inverse'],
          default: ADPO_DEFAULTS.form,
          description: "'linear' (public code) or 'inverse' (paper: eps_high ∝ 1/s)",
        },
        clip_ratio_c: clipC,
        entropy_coeff: entropyCoeff,
      },
    },
    create: (o, ctx) => {
      const build = (scale: AdpoScale): PolicyLoss => {
        checkScaleRange('policy-loss/adpo', scale);
        const { field } = scale;
        const clip = {
          clipRatio: o.clip_ratio,
          clipHighBoost: o.clip_ratio_high_boost,
          sLo: scale.s_lo,
          sHi: scale.s_hi,
          form: o.clip_high_form,
          clipRatioC: o.clip_ratio_c,
        };
        const highs = (fields: Readonly<Record<string, Float32Array>>, rows: number): number[] => {
          const s = checkedColumn(fields[field], field, 'policy-loss/adpo');
          if (s.length !== rows)
            throw new Error(`policy-loss/adpo: field '${field}' has ${s.length} rows, batch ${rows}`);
          return Array.from(s, (v) => adpoClipHigh(v, clip));
        };
        return lossOf(
          'policy-loss/adpo',
          [field],
          (i) =>
            adpoLoss(
              i.logProbs,
              i.oldLogProbs,
              i.advantages,
              i.responseMask,
              fieldValues(i, field, 'policy-loss/adpo'),
              clip,
            ),
          o.entropy_coeff,
          clipWire('token', o.clip_ratio, highs, o.clip_ratio_c, o.entropy_coeff, ['clip_high_mean']),
        );
      };
      // without a reference the loss is built at once, as before (callers outside a run rely on it)
      if (o.advantage === null) return build(o);
      const name = o.advantage;
      return ctx.get(name, 'advantage').then((a) => {
        if (!isAdpoAdvantage(a)) throw new Error(`policy-loss/adpo: '${name}' is not an advantage/adpo instance`);
        return build(a.adpoScale);
      });
    },
  }),
];
