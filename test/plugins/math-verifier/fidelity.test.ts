import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { compareAnswers, DEFAULT_COMPARE } from '../../../plugins/math-verifier/compare.js';
import { extractAnswer } from '../../../plugins/math-verifier/extract.js';
import { MATH_VERIFIER_SCHEMA } from '../../../plugins/math-verifier/options.js';
import { DEFAULT_VERIFIER, MathVerifier } from '../../../plugins/math-verifier/verifier.js';

// Vectors from test/fixtures/fidelity/make_vectors.py: Math-Verify's sympy_numeric_eq (both sides
// rounded to float_rounding decimals when one is a Float) evaluated with sympy, and mathruler's
// extract_boxed_content (Agent0's answer reader), written independently of this project's code.
const V = JSON.parse(readFileSync(new URL('../../fixtures/fidelity/vectors.json', import.meta.url), 'utf8')) as {
  verifierRounding: { gold: string; pred: string; expected: Record<string, boolean> }[];
  boxedExtraction: { text: string; expected: string | null }[];
};

describe('fidelity: decimals compare as Math-Verify rounds them', () => {
  it("defaults to float_rounding 6 (Math-Verify's default)", () => {
    expect(DEFAULT_VERIFIER.floatRounding).to.equal(6);
    expect((MATH_VERIFIER_SCHEMA.properties as Record<string, { default?: unknown }>).floatRounding!.default).to.equal(
      6,
    );
  });

  for (const precision of ['2', '3', '4', '5', '6']) {
    it(`floatRounding ${precision}: every pair as sympy decides it`, () => {
      for (const c of V.verifierRounding) {
        const got = compareAnswers(c.gold, c.pred, { ...DEFAULT_COMPARE, floatRounding: Number(precision) });
        expect(got, `${c.gold} vs ${c.pred}`).to.equal(c.expected[precision]);
      }
    });
  }

  it('through the verifier with its defaults: 1/3 is not 0.33 and 4π is not 12.566', async () => {
    const v = new MathVerifier();
    try {
      expect(await v.verify('\\frac{1}{3}', 'so \\boxed{0.33}')).to.deep.equal({ correct: false, extracted: '0.33' });
      expect(await v.verify('4\\pi', 'so \\boxed{12.566}')).to.deep.equal({ correct: false, extracted: '12.566' });
      expect((await v.verify('\\frac{1}{3}', 'so \\boxed{0.333333}')).correct).to.equal(true);
    } finally {
      await v.dispose();
    }
  });
});

describe('fidelity: a response cut off inside its last \\boxed{} has no answer', () => {
  for (const c of V.boxedExtraction) {
    it(JSON.stringify(c.text), () => expect(extractAnswer(c.text)).to.equal(c.expected));
  }

  it('so a truncated \\boxed{7 is wrong even when 7 is right', async () => {
    const v = new MathVerifier();
    try {
      expect(await v.verify('7', 'We get 12 apples, then 7. \\boxed{7')).to.deep.equal({
        correct: false,
        extracted: null,
      });
    } finally {
      await v.dispose();
    }
  });
});
