import { expect } from 'chai';
import { extractAnswer, MAX_ANSWER_CHARS, MAX_RESPONSE_CHARS } from '../../../plugins/math-verifier/extract.js';
import { normalizeAnswer } from '../../../plugins/math-verifier/normalize.js';

describe('math verifier: extraction', () => {
  it('takes the last \\boxed{} / \\fbox{} with nested braces matched', () => {
    expect(extractAnswer('first \\boxed{1}, later \\boxed{\\frac{a}{\\sqrt{b}}} done')).to.equal(
      '\\frac{a}{\\sqrt{b}}',
    );
    expect(extractAnswer('so \\fbox{42}.')).to.equal('42');
    // a response cut off inside its last box has no answer (mathruler's "None"), not the box's start or an earlier
    // number
    expect(extractAnswer('unclosed \\boxed{x+{1}')).to.equal(null);
    expect(extractAnswer('We get 12 apples. \\boxed{7')).to.equal(null);
    expect(extractAnswer('\\boxed{3} is wrong; so \\boxed{5')).to.equal(null);
    // a gold answer's unclosed box is read to the end
    expect(extractAnswer('unclosed \\boxed{x+{1}', { unclosedBox: 'content' })).to.equal('x+{1}');
  });

  it('joins boxes written as one answer, but not boxes separated by prose', () => {
    expect(extractAnswer('$\\boxed{1}$ and $\\boxed{2}$')).to.equal('1, 2');
    expect(extractAnswer('\\boxed{(1, 2)}, \\boxed{(2, 1)}')).to.equal('(1, 2), (2, 1)');
    expect(extractAnswer('\\boxed{7}. But let me check again the whole computation once more... \\boxed{8}')).to.equal(
      '8',
    );
  });

  it('falls back to answer phrases, then to the last formula or number', () => {
    expect(extractAnswer('We compute things. The final answer is $\\frac{3}{4}$. I hope it is correct.')).to.equal(
      '\\frac{3}{4}',
    );
    expect(extractAnswer('Answer: 17')).to.equal('17');
    expect(extractAnswer('first 3 then 4 and finally $x+1$')).to.equal('x+1');
    expect(extractAnswer('it was 10, then 12,500 apples')).to.equal('12,500');
    expect(extractAnswer('```output\n1.5e-05\n```')).to.equal('1.5e-05');
    expect(extractAnswer('no answer here')).to.equal(null);
  });

  it('prefers a "final answer" written after the last box (the box held an intermediate step)', () => {
    expect(extractAnswer('interest is \\boxed{200}. ... Final Answer: The final answer is $10,455$.')).to.equal(
      '10,455',
    );
  });

  it('reads $..$ and \\(..\\) on one line only, $$..$$ and \\[..\\] across lines', () => {
    expect(extractAnswer('Answer $ \n 9 \n $')).to.equal(null);
    expect(extractAnswer('Answer \\( \n 9 \n \\)')).to.equal(null);
    expect(extractAnswer('Answer \\[ \n 9 \n \\]')).to.equal('9');
    expect(extractAnswer('Answer $$ \n 9 \n $$')).to.equal('9');
    expect(extractAnswer('costs \\$5 and then $x+1$')).to.equal('x+1');
  });

  it('joins formulas linked only by connectors', () => {
    expect(extractAnswer('$1$ and $2$ and $3$')).to.equal('1, 2, 3');
  });

  it('caps lengths: a huge answer is refused, a huge response is read from its end', () => {
    expect(extractAnswer(`\\boxed{${'1'.repeat(MAX_ANSWER_CHARS + 1)}}`)).to.equal(null);
    const t = performance.now();
    expect(extractAnswer(`\\boxed{1} ${'x'.repeat(MAX_RESPONSE_CHARS * 2)} \\boxed{5}`)).to.equal('5');
    expect(extractAnswer(`${'{'.repeat(MAX_RESPONSE_CHARS * 2)}`)).to.equal(null);
    // unclosed openers: a lazy regex would rescan to the end from each one (quadratic)
    expect(extractAnswer('\\('.repeat(MAX_RESPONSE_CHARS / 2))).to.equal(null);
    expect(extractAnswer('\\[ a '.repeat(MAX_RESPONSE_CHARS / 5))).to.equal(null);
    expect(performance.now() - t).to.be.below(1000);
  });
});

describe('math verifier: normalisation', () => {
  const cases: [string, string][] = [
    ['\\left( \\frac{1}{3} \\right)', '( \\frac{1}{3} )'],
    ['\\dfrac{1}{2}+\\tfrac{1}{3}', '\\frac{1}{2}+\\frac{1}{3}'],
    ['x\\,\\quad y', 'x y'],
    ['15\\text{ cm}^2', '15'],
    ['125\\textnormal{ miles}', '125'],
    ['90^\\circ', '90'],
    ['90°', '90'],
    ['28\\%', '28'],
    ['28 percent', '28'],
    ['\\$5.00', '5.00'],
    ['1,234,567', '1234567'],
    ['14{,}916', '14916'],
    ['11,\\! 111,\\! 100', '11111100'],
    ['1 000', '1000'],
    ['(12,102)', '(12,102)'],
    ['1,22', '1,22'],
    ['0,111', '0,111'],
    ['\\frac12', '\\frac{1}{2}'],
    ['\\frac3{4}', '\\frac{3}{4}'],
    ['\\sqrt3', '\\sqrt{3}'],
    ['3\\frac{1}{2}', '(3+\\frac{1}{2})'],
    ['\\text{Evelyn}', 'Evelyn'],
    ['x \\geq 5', 'x ≥ 5'],
    ['x <= 2', 'x ≤ 2'],
    ['\\\\frac{1}{2}', '\\frac{1}{2}'],
    ['\\mathbb{R}', '(-\\infty,\\infty)'],
    ['\\varnothing', '\\emptyset'],
    ['4 4/9', '(4+\\frac{4}{9})'],
  ];
  for (const [raw, want] of cases) {
    it(`${raw} → ${want}`, () => expect(normalizeAnswer(raw)).to.equal(want));
  }
});
