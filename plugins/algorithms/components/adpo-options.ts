import { ADPO_DEFAULTS } from '../math/adpo-defaults.js';

/**
 * ADPO's self-consistency options, shared by advantage/adpo (the advantage scale) and
 * policy-loss/adpo (the upper clip): each is written once here and placed in both schemas at its
 * own position, so the option order (and so the filled options) stays that of each component.
 */
export const adpoScaleOptions = {
  field: {
    type: 'string',
    default: 'selfConsistency',
    description: 'per-sample field holding the task self-consistency s',
  },
  s_lo: { type: 'number', default: ADPO_DEFAULTS.sLo },
  s_hi: { type: 'number', default: ADPO_DEFAULTS.sHi },
} as const;

/** The options policy-loss/adpo takes from the advantage/adpo instance its `advantage` option names. */
export const ADPO_SHARED = ['field', 's_lo', 's_hi'] as const;

/** What advantage/adpo exposes so that policy-loss/adpo can use the same s_lo/s_hi of the same field. */
export interface AdpoScale {
  readonly field: string;
  readonly s_lo: number;
  readonly s_hi: number;
}

/** Both components need s_hi > s_lo (the ramp between them divides by s_hi - s_lo). */
export function checkScaleRange(id: string, o: { s_lo: number; s_hi: number }): void {
  if (!(o.s_hi > o.s_lo)) throw new Error(`${id}: s_hi (${o.s_hi}) must exceed s_lo (${o.s_lo})`);
}
