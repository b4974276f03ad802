import { expect } from 'chai';
import { compareAnswers, DEFAULT_COMPARE, type CompareOptions } from '../../../plugins/math-verifier/compare.js';

const same = (g: string, p: string, o: Partial<CompareOptions> = {}) =>
  compareAnswers(g, p, { ...DEFAULT_COMPARE, ...o });

function table(title: string, rows: [string, string, boolean][], o: Partial<CompareOptions> = {}): void {
  it(title, () => {
    for (const [g, p, want] of rows) expect(same(g, p, o), `${g} vs ${p}`).to.equal(want);
  });
}

describe('math verifier: equivalence', () => {
  // a written decimal is read to floatRounding (6) decimals on both sides, as Math-Verify's float_rounding
  table('plain strings and numbers (exact when both are exact)', [
    ['42', '42', true],
    ['42', '42.0', true],
    ['42', '43', false],
    ['0.5', '\\frac{1}{2}', true],
    ['\\frac{2}{4}', '\\frac{1}{2}', true],
    ['-3', '- 3', true],
    ['1000000', '1000001', false],
    ['0.1+0.2', '0.3', true],
    ['\\frac{1}{3}', '0.3', false],
    ['\\frac{1}{3}', '0.33', false],
    ['\\frac{1}{3}', '0.333333', true],
    ['0.333333', '\\frac{1}{3}', true],
    ['\\frac{2}{3}', '0.666666', false],
    ['3', '3.0000001', true],
    ['33.3', '\\frac{100}{3}', false],
    ['1000000', '1000000.4', false],
    ['16386.16', '16386.17', false],
    ['0.29', '0.2902435', false],
    ['0.29', '0.2952435', false],
    ['0.000015', '1.5e-05', true],
    ['1500', '1.5e3', true],
    ['1500', '1.5e4', false],
    ['0.3', '0.30000000000000004', true],
  ]);

  // floatRounding 2, as two of Math-Verify's own tests pass (precision=2): 1/3 = 0.33 (1/3 ≠ 0.3 as 0.3 ≠ 0.33), ties
  // to even
  table(
    'floatRounding 2',
    [
      ['\\frac{1}{3}', '0.33', true],
      ['\\frac{1}{3}', '0.3', false],
      ['\\pi', '3.14', true],
      ['4\\pi', '12.566', true],
      ['0.29', '0.2902435', true],
      ['\\frac{1}{8}', '0.12', true],
      ['\\frac{1}{8}', '0.13', false],
      ['33.3', '\\frac{100}{3}', false],
      ['33.33', '\\frac{100}{3}', true],
    ],
    { floatRounding: 2 },
  );

  table('percent on one side reads both ways; mixed numbers are one value', [
    ['28\\%', '28', true],
    ['28\\%', '0.28', true],
    ['0.28', '28\\%', true],
    ['0.28', '28', false],
    ['28', '\\frac{28}{100}', false],
    ['40/9', '4 4/9', true],
    ['-40/9', '-4 4/9', true],
    ['4', '4 4/9', false],
    ['\\frac{7}{2}', '3\\frac{1}{2}', true],
    ['103/9', '11.0 4/9', false],
  ]);

  table('big and tiny numbers stay exact', [
    ['2^{100}', '2^{99}', false],
    ['2^{100}', '1267650600228229401496703205376', true],
    ['2^{100}', '1267650600228229401496703205377', false],
    ['\\frac{1}{30!}', '\\frac{1}{265252859812191058636308480000000}', true],
    ['\\frac{1}{30!}', '\\frac{1}{31!}', false],
    ['\\frac{1}{30!}', '0', false],
    ['10^{-30}', '10^{-31}', false],
    ['3^{200}', '3^{200}+1', false],
    ['\\binom{10}{3}', '120', true],
  ]);

  table('symbolic: random points and exact algebra', [
    ['\\frac{x+2}{7}', '\\frac{x}{7}+\\frac{2}{7}', true],
    ['(x+1)^2', 'x^2+2x+1', true],
    ['(x+1)^2', 'x^2+2x+2', false],
    ['\\sin^2 x+\\cos^2 x', '1', true],
    ['\\tan^2(y)+1', '\\sec^2(y)', true],
    ['\\frac{\\sqrt{3}}{2}', '\\frac{1}{2}\\sqrt{3}', true],
    ['\\sqrt{17}', '4.123105625617661', true],
    ['x+2n+1', 'x+1', false],
    ['\\pi', '3.14', false],
    ['\\pi', '3.141593', true],
    ['4\\pi', '12.566', false],
    ['\\sqrt[3]{-8}', '-2', true],
    ['\\sin 2x', '2\\sin x\\cos x', true],
    ['|x|', 'x', false],
    ['\\sqrt{x^2}', '|x|', true],
    ['\\ln(x^2)', '2\\ln x', true],
    ['\\log_2 x', '\\frac{\\ln x}{\\ln 2}', true],
  ]);

  table('complex numbers: i is the imaginary unit', [
    ['2i', '(1+i)^2', true],
    ['2', '(1+i)^2', false],
    ['\\frac{1-i}{2}', '\\frac{1}{1+i}', true],
    ['-1', 'e^{i\\pi}', true],
    ['5', '|3+4i|', true],
    ['1+i', '1-i', false],
    ['i', '\\sqrt{-1}', true],
    ['x+i', 'x-i', false],
  ]);

  table('structures: tuples ordered, sets unordered, intervals with their brackets, unions', [
    ['(1,2)', '(1,2)', true],
    ['(1,2)', '(2,1)', false],
    ['(1,\\frac{9}{2})', '(1,4.5)', true],
    ['\\{1,2\\}', '\\{2,1\\}', true],
    ['1,2,3', '3, 2, 1', true],
    ['1,2,3', '1,2', false],
    ['[0,1)', '[0,1)', true],
    ['[0,1)', '(0,1)', false],
    ['[0,1)', '[0,1]', false],
    ['(-\\infty,0)\\cup(1,\\infty)', '(1,\\infty)\\cup(-\\infty,0)', true],
    ['[0,1]\\cup[1,2]', '[0,2]', true],
    ['[0,1]\\cup[2,3]', '[0,3]', false],
    ['(1,3)', '{1,3}', true],
    ['(3,1)', '{1,3}', false],
  ]);

  table('relations: up to a factor, flipped sides, labels', [
    ['x<1', '-x>-1', true],
    ['x<1', 'x>-1', false],
    ['x \\le 5', '5 \\ge x', true],
    ['x<5', 'x \\le 5', false],
    ['y=2x+1', '2x-y+1=0', true],
    ['x^2+y^2=1', '2x^2+2y^2=2', true],
    ['x^2+y^2=1', 'x^2+y^2=2', false],
    ['x=3', '3', true],
    ['3', 'x=3', true],
    ['a+3z=0', '0', false],
    ['-2 \\le x \\le 7', 'x \\in [-2,7]', true],
    ['-2 \\le x \\le 7', 'x \\in (-2,7]', false],
  ]);

  table('a gold interval accepts an inequality only with allowSetRelation', [
    ['x \\in [-2,7]', '-2 \\le x \\le 7', false],
  ]);
  table('... and with it', [['x \\in [-2,7]', '-2 \\le x \\le 7', true]], { allowSetRelation: true });

  table('\\pm expands to both signs', [
    ['1\\pm\\sqrt{2}', '1+\\sqrt{2}, 1-\\sqrt{2}', true],
    ['1\\pm\\sqrt{2}', '1+\\sqrt{2}', false],
    ['\\pm 3', '\\{-3, 3\\}', true],
    ['x = \\frac{-1 \\pm \\sqrt{13}}{4}', '\\frac{-1-\\sqrt{13}}{4}, \\frac{-1+\\sqrt{13}}{4}', true],
  ]);

  table('matrices element-wise (literal sums and products evaluated)', [
    ['\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}', '\\begin{bmatrix}1 & 2 \\\\ 3 & 4\\end{bmatrix}', true],
    ['\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}', '\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}', false],
    ['\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}', '\\begin{pmatrix}1 & 2 & 0 \\\\ 3 & 4 & 0\\end{pmatrix}', false],
    ['\\begin{pmatrix}\\frac{1}{2} \\\\ 2\\end{pmatrix}', '\\begin{pmatrix}0.5 \\\\ \\sqrt{4}\\end{pmatrix}', true],
    [
      '\\begin{pmatrix}19 & 22 \\\\ 43 & 50\\end{pmatrix}',
      '\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}\\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}',
      true,
    ],
  ]);

  table('text answers', [
    ['\\text{Evelyn}', 'Evelyn', true],
    ['\\text{(C)}', 'C', true],
    ['\\text{odd}', 'even', false],
  ]);

  table('variables matter when strict', [
    ['f(x)', 'f(y)', false],
    ['x^2+1', 'y^2+1', false],
  ]);
  table(
    '... and map by order when not',
    [
      ['f(x)', 'f(y)', true],
      ['x^2+1', 'y^2+1', true],
      ['x^2+y', 'y^2+x', true],
    ],
    { strictVariables: false },
  );
});
