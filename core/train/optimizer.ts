/**
 * AdamW as every built-in policy runs it: decoupled weight decay on matrices only, bias-corrected
 * moments, eps added after the square root, linear warmup then a constant rate, global-norm clip.
 */
export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Linear warmup from 0 over this many steps, then constant. */
  warmupSteps: number;
  /** Global-norm clip; 0 disables. */
  maxGradNorm: number;
}

/** lr at 1-based step `step`: linear warmup (step / warmupSteps) then constant. */
export function lrAt(cfg: AdamWConfig, step: number): number {
  return cfg.warmupSteps > 0 && step < cfg.warmupSteps ? (cfg.lr * step) / cfg.warmupSteps : cfg.lr;
}

/** The recipe schema of an AdamWConfig with an engine's own defaults (its properties are AdamWConfig's fields). */
export function adamwSchema(defaults: AdamWConfig, description: string) {
  return {
    type: 'object',
    default: {},
    additionalProperties: false,
    description,
    properties: {
      lr: { type: 'number', exclusiveMinimum: 0, default: defaults.lr },
      beta1: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: defaults.beta1 },
      beta2: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: defaults.beta2 },
      eps: { type: 'number', exclusiveMinimum: 0, default: defaults.eps },
      weightDecay: { type: 'number', minimum: 0, default: defaults.weightDecay },
      warmupSteps: { type: 'integer', minimum: 0, default: defaults.warmupSteps },
      maxGradNorm: { type: 'number', minimum: 0, default: defaults.maxGradNorm, description: '0 disables clipping' },
    } as const satisfies Record<keyof AdamWConfig, unknown>,
  } as const;
}
