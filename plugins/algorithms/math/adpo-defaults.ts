/**
 * ADPO's defaults (Agent0's script), written once: the math below and the component schemas both
 * read them.
 */
export const ADPO_DEFAULTS = {
  /** Self-consistency below which the advantage scale is a_min and the upper clip boost is full. */
  sLo: 0.3,
  /** Self-consistency from which ADPO is GRPO (scale 1, upper clip ε). */
  sHi: 0.8,
  /** Smallest advantage scale (Agent0's script; its code's default is 0.5). */
  aMin: 0.6,
  /** Symmetric base clip ε. */
  clipRatio: 0.2,
  /** b: the largest extra upper clip. */
  clipHighBoost: 0.1,
  form: 'linear',
} as const;
