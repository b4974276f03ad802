import { expect } from 'chai';
import fc from 'fast-check';
import { compareAnswers, DEFAULT_COMPARE } from '../../../plugins/math-verifier/compare.js';
import { extractAnswer, MAX_ANSWER_CHARS } from '../../../plugins/math-verifier/extract.js';
import { normalizeAnswer } from '../../../plugins/math-verifier/normalize.js';

// LaTeX-ish fragments, so random strings reach the structure and expression code, not just the tokenizer
const TOKENS = [
  '\\boxed{',
  '}',
  '{',
  '$',
  '$$',
  '\\(',
  '\\)',
  '\\[',
  '\\]',
  '\\frac',
  '\\sqrt',
  '[3]',
  '1',
  '23',
  '0.5',
  'x',
  'y',
  'i',
  '\\pi',
  '+',
  '-',
  '^',
  '_',
  '(',
  ')',
  '[',
  ']',
  ',',
  ';',
  ':',
  '=',
  '<',
  '\\le',
  '\\ne',
  '\\pm',
  '\\cup',
  '\\in',
  '\\infty',
  '\\text{',
  ' and ',
  ' ',
  '\n',
  '\\%',
  '\\left(',
  '\\right)',
  '\\begin{pmatrix}',
  '&',
  '\\\\',
  '\\end{pmatrix}',
  '\\sum_{k=1}^{n}',
  '!',
  '|',
  '\\{',
  '\\}',
  'Answer: ',
  'final answer is ',
  '1,000',
  '.',
  '\\cdot',
  '\\sin',
  '1e-5',
  '4 4/9',
];
const latex = fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 14 }).map((t) => t.join(''));

describe('math verifier: random LaTeX-ish input', () => {
  it('extraction never throws and respects the answer cap', () => {
    fc.assert(
      fc.property(latex, (s) => {
        const a = extractAnswer(s);
        expect(a === null || (a.length > 0 && a.length <= MAX_ANSWER_CHARS)).to.equal(true);
      }),
      { numRuns: 400, seed: 7 },
    );
  });

  it('comparison never throws, and an answer equals itself unless it normalises to nothing', () => {
    fc.assert(
      fc.property(latex, latex, (a, b) => {
        expect(typeof compareAnswers(a, b, DEFAULT_COMPARE)).to.equal('boolean');
        expect(compareAnswers(a, a, DEFAULT_COMPARE)).to.equal(normalizeAnswer(a) !== '');
      }),
      { numRuns: 400, seed: 7 },
    );
  });
});
