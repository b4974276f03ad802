import { expect } from 'chai';
import { boxedSpans, lastBoxed, type BoxOptions } from '../../../plugins/shared/boxed.js';
import { extractBoxed } from '../../../plugins/arith-world/formats.js';
import { lastBoxed as benchmarkBoxed } from '../../../plugins/benchmarks/read.js';

// The three readers' choices: math-verifier (defaults), arith-world and benchmarks.
const ARITH: BoxOptions = { commands: ['boxed'], spaceBeforeBrace: false, escapedBraces: false };
const PLAIN: BoxOptions = { spaceBeforeBrace: false, escapedBraces: false };

describe('shared: \\boxed{} extraction', () => {
  const contents = (t: string, o?: BoxOptions) => boxedSpans(t, o).map((s) => [s.content, s.closed]);

  it('boxedSpans: every box left to right, nested boxes inside their parent, the unclosed one last', () => {
    const cases: [string, (string | boolean)[][]][] = [
      ['no box', []],
      [
        '\\boxed{1} and \\fbox{2}',
        [
          ['1', true],
          ['2', true],
        ],
      ],
      ['\\boxed{\\frac{1}{2}}', [['\\frac{1}{2}', true]]],
      ['\\boxed{\\boxed{1}}', [['\\boxed{1}', true]]],
      ['\\boxed {3}', [['3', true]]],
      ['\\boxed\n{4}', [['4', true]]],
      ['\\boxed{\\{5\\}}', [['\\{5\\}', true]]],
      [
        '\\boxed{1} \\boxed{2',
        [
          ['1', true],
          ['2', false],
        ],
      ],
      ['\\boxed{a \\boxed{b}', [['a \\boxed{b}', false]]],
      ['\\boxed{', [['', false]]],
      ['\\box{1} \\boxedx{2}', []],
    ];
    for (const [text, want] of cases) expect(contents(text), text).to.deep.equal(want);
    expect(boxedSpans('x \\boxed{12} y')).to.deep.equal([{ start: 2, end: 12, content: '12', closed: true }]);
    expect(boxedSpans('x \\boxed{12')).to.deep.equal([{ start: 2, end: 11, content: '12', closed: false }]);
  });

  it('the options: which commands, space before the brace, escaped braces', () => {
    expect(contents('\\fbox{1}', { commands: ['boxed'] })).to.deep.equal([]);
    expect(contents('\\boxed {3}', { spaceBeforeBrace: false })).to.deep.equal([]);
    // Unescaped reading: `\}` closes the box.
    expect(contents('\\boxed{\\}x}', { escapedBraces: false })).to.deep.equal([['\\', true]]);
    expect(contents('\\boxed{\\}x}')).to.deep.equal([['\\}x', true]]);
  });

  it('lastBoxed: the box opened last, even inside another; undefined when it never closes', () => {
    const cases: [string, BoxOptions, string | undefined][] = [
      ['a \\boxed{1} then \\boxed{\\frac{a}{b}} end', {}, '\\frac{a}{b}'],
      ['\\boxed{\\boxed{1}}', {}, '1'],
      ['\\boxed{\\boxed{1}', {}, '1'],
      ['\\boxed{1} \\boxed{2', {}, undefined],
      ['\\boxed{1} \\fbox{2}', {}, '2'],
      ['\\boxed{1} \\fbox{2}', { commands: ['boxed'] }, '1'],
      ['\\boxed{ 7 }', {}, ' 7 '],
      ['\\boxed {8}', {}, '8'],
      ['\\boxed {8}', PLAIN, undefined],
      ['\\boxed{\\}9}', PLAIN, '\\'],
      ['\\boxed{\\}9}', {}, '\\}9'],
      ['nothing', {}, undefined],
    ];
    for (const [text, o, want] of cases) expect(lastBoxed(text, o), `${text} ${JSON.stringify(o)}`).to.equal(want);
  });

  it("keeps the arith world's and the benchmark reader's answers", () => {
    expect(extractBoxed('\\boxed{\\frac{1}{2}} and \\boxed{ 3 }')).to.equal('3');
    expect(extractBoxed('\\fbox{3}')).to.equal(null);
    expect(extractBoxed('\\boxed{\\boxed{4}')).to.equal('4');
    expect(extractBoxed('\\boxed{4} \\boxed{5')).to.equal(null);
    expect(lastBoxed('\\boxed{ 6 } \\fbox{7', ARITH)).to.equal(' 6 ');
    expect(benchmarkBoxed('\\boxed{6} \\fbox{ 7 }')).to.equal(' 7 ');
    expect(benchmarkBoxed('\\boxed{a\\}b}')).to.equal('a\\', 'an escaped brace closes it');
  });
});
