import { DEFAULT_VERIFIER, type MathVerifierOptions } from './verifier.js';

const d = DEFAULT_VERIFIER;

/**
 * Options of `verifier/math` (defaults filled in by the registry before create()). The defaults
 * live in DEFAULT_VERIFIER, the verifier's own API; `satisfies` keeps the properties and its fields one set.
 */
export const MATH_VERIFIER_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    timeoutMs: {
      type: 'integer',
      minimum: 10,
      maximum: 600_000,
      default: d.timeoutMs,
      description: 'per comparison; a comparison past it is a non-match',
    },
    workers: {
      type: 'integer',
      minimum: 1,
      maximum: 64,
      default: d.workers,
      description: 'worker threads comparing answers',
    },
    relTol: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 0.1,
      default: d.relTol,
      description: 'relative tolerance when a side is not exact (decimals, irrationals, symbolic)',
    },
    absTol: {
      type: 'number',
      minimum: 0,
      maximum: 0.1,
      default: d.absTol,
      description: 'absolute tolerance added to relTol',
    },
    floatRounding: {
      type: 'integer',
      minimum: 0,
      maximum: 30,
      default: d.floatRounding,
      description:
        "where a side is a written decimal, both values rounded to this many decimals must agree (Math-Verify's float_rounding: 1/3 = 0.333333, not 0.33)",
    },
    strictVariables: {
      type: 'boolean',
      default: d.strictVariables,
      description: 'variable names matter (f(x) vs f(y)); false maps variables by order of appearance',
    },
    allowSetRelation: {
      type: 'boolean',
      default: d.allowSetRelation,
      description: 'a gold interval also matches the equivalent predicted inequality',
    },
    points: {
      type: 'integer',
      minimum: 1,
      maximum: 100,
      default: d.points,
      description: 'random points for symbolic comparison',
    },
    symbolic: {
      type: 'boolean',
      default: d.symbolic,
      description: 'fall back to @cortex-js/compute-engine outside the local grammar',
    },
    cacheSize: {
      type: 'integer',
      minimum: 0,
      default: d.cacheSize,
      description: 'remembered (gold, pred) verdicts; 0 disables',
    },
    maxAnswerChars: {
      type: 'integer',
      minimum: 1,
      default: d.maxAnswerChars,
      description: 'longer answers are non-matches',
    },
  } as const satisfies Record<keyof MathVerifierOptions, unknown>,
} as const;
