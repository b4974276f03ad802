import { expect } from 'chai';
import { fillOptions, type OptionsOf } from '../../../core/index.js';
import { mathVerifier } from '../../../plugins/math-verifier/index.js';
import {
  COMPARE_KEYS,
  compareOptions,
  DEFAULT_COMPARE,
  type CompareOptions,
} from '../../../plugins/math-verifier/compare-options.js';
import {
  DEFAULT_VERIFIER,
  MATH_VERIFIER_SCHEMA,
  type MathVerifierOptions,
} from '../../../plugins/math-verifier/options.js';

/** True only when A and B are the same type (checked by tsc: a mismatch does not compile). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

describe('verifier/math options come from its schema alone', () => {
  it('the types are derived from the schema (this file compiles only if they are)', () => {
    const derived: Equal<MathVerifierOptions, OptionsOf<typeof MATH_VERIFIER_SCHEMA>> = true;
    const subset: Equal<CompareOptions, Pick<MathVerifierOptions, (typeof COMPARE_KEYS)[number]>> = true;
    const shape: Equal<
      CompareOptions,
      {
        relTol: number;
        absTol: number;
        floatRounding: number;
        strictVariables: boolean;
        allowSetRelation: boolean;
        points: number;
      }
    > = true;
    expect([derived, subset, shape]).to.deep.equal([true, true, true]);
  });

  it('DEFAULT_VERIFIER is what the component gets from an empty recipe entry, key for key', () => {
    const props = MATH_VERIFIER_SCHEMA.properties as Record<string, { default: unknown }>;
    expect(Object.keys(DEFAULT_VERIFIER)).to.deep.equal(Object.keys(props));
    for (const [k, p] of Object.entries(props))
      expect(DEFAULT_VERIFIER[k as keyof MathVerifierOptions], k).to.equal(p.default);
    expect(fillOptions(mathVerifier, {})).to.deep.equal(DEFAULT_VERIFIER);
  });

  it('DEFAULT_COMPARE is the comparison subset of those defaults, and only that', () => {
    expect(DEFAULT_COMPARE).to.deep.equal(Object.fromEntries(COMPARE_KEYS.map((k) => [k, DEFAULT_VERIFIER[k]])));
    const sent = compareOptions({ ...DEFAULT_VERIFIER, relTol: 1e-3 });
    expect(Object.keys(sent)).to.deep.equal([...COMPARE_KEYS]);
    expect(sent.relTol).to.equal(1e-3);
  });
});
