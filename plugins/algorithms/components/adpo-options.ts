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
  s_lo: { type: 'number', default: 0.3 },
  s_hi: { type: 'number', default: 0.8 },
} as const;

/** Both components need s_hi > s_lo (the ramp between them divides by s_hi - s_lo). */
export function checkScaleRange(id: string, o: { s_lo: number; s_hi: number }): void {
  if (!(o.s_hi > o.s_lo)) throw new Error(`${id}: s_hi (${o.s_hi}) must exceed s_lo (${o.s_lo})`);
}
