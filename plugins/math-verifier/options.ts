import type { OptionsOf } from '../../core/index.js';

/**
 * Options of `verifier/math` (defaults filled in by the registry before create()): the one source
 * of the verifier's option types and defaults (DEFAULT_VERIFIER, DEFAULT_COMPARE).
 */
export const MATH_VERIFIER_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    timeoutMs: {
      type: 'integer',
      minimum: 10,
      maximum: 600_000,
      default: 1000,
      description: 'per comparison; a comparison past it is a non-match',
    },
    workers: {
      type: 'integer',
      minimum: 1,
      maximum: 64,
      default: 1,
      description: 'worker threads comparing answers',
    },
    relTol: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 0.1,
      default: 1e-6,
      description: 'relative tolerance when a side is not exact (decimals, irrationals, symbolic)',
    },
    absTol: {
      type: 'number',
      minimum: 0,
      maximum: 0.1,
      default: 1e-12,
      description: 'absolute tolerance added to relTol',
    },
    floatRounding: {
      type: 'integer',
      minimum: 0,
      maximum: 30,
      default: 6,
      description:
        "where a side is a written decimal, both values rounded to this many decimals must agree (Math-Verify's float_rounding: 1/3 = 0.333333, not 0.33)",
    },
    strictVariables: {
      type: 'boolean',
      default: true,
      description: 'variable names matter (f(x) vs f(y)); false maps variables by order of appearance',
    },
    allowSetRelation: {
      type: 'boolean',
      default: false,
      description: 'a gold interval also matches the equivalent predicted inequality',
    },
    points: {
      type: 'integer',
      minimum: 1,
      maximum: 100,
      default: 8,
      description: 'random points for symbolic comparison',
    },
    symbolic: {
      type: 'boolean',
      default: true,
      description: 'fall back to @cortex-js/compute-engine outside the local grammar',
    },
    cacheSize: {
      type: 'integer',
      minimum: 0,
      default: 20_000,
      description: 'remembered (gold, pred) verdicts; 0 disables',
    },
    maxAnswerChars: {
      type: 'integer',
      minimum: 1,
      default: 1000,
      description: 'longer answers are non-matches',
    },
  },
} as const;

export type MathVerifierOptions = OptionsOf<typeof MATH_VERIFIER_SCHEMA>;

type Props = typeof MATH_VERIFIER_SCHEMA.properties;

/** The schema's defaults; typed per option, so an option without a default does not compile. */
export const DEFAULT_VERIFIER: MathVerifierOptions = Object.fromEntries(
  Object.entries(MATH_VERIFIER_SCHEMA.properties).map(([k, p]) => [k, p.default]),
) as { [K in keyof Props]: Props[K]['default'] };
