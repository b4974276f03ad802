import { expect } from 'chai';
import {
  agglomerativeLabels,
  averageLinkage,
  fsum,
  modifiedPrecision,
  pySplit,
  repetitionShares,
  sentenceBleu,
  sentenceBleuText,
} from '../../../plugins/rewards/public.js';

const near = (a: number, b: number, tol = 1e-15) => expect(Math.abs(a - b), `${a} vs ${b}`).to.be.at.most(tol);

describe('BLEU by hand', () => {
  it('splits like Python str.split()', () => {
    expect(pySplit('  a\tb\n\nc  ')).to.deep.equal(['a', 'b', 'c']);
    expect(pySplit('a\u00a0b\x1fc\x85d\u3000e')).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    expect(pySplit('a\u200bb\ufeffc')).to.deep.equal(['a\u200bb\ufeffc']); // not whitespace to Python
    expect(pySplit('')).to.deep.equal([]);
  });

  it('counts clipped n-gram matches over an unreduced denominator', () => {
    // hyp "the the the the" vs ref "the cat": 4 unigrams, "the" clipped to 1
    expect(modifiedPrecision([['the', 'cat']], ['the', 'the', 'the', 'the'], 1)).to.deep.equal({
      numerator: 1,
      denominator: 4,
    });
    expect(modifiedPrecision([['the', 'cat']], ['the', 'the', 'the', 'the'], 2)).to.deep.equal({
      numerator: 0,
      denominator: 3,
    });
    expect(modifiedPrecision([['a']], ['a'], 3)).to.deep.equal({ numerator: 0, denominator: 1 });
  });

  it('matches values worked out from the formula', () => {
    // "x" vs "x": p1 = 1, p2..p4 = 0.1/1 (method1), BP = 1 → 0.1^(3/4)
    near(sentenceBleuText('x', 'x'), 0.1 ** 0.75, 1e-16);
    // identical 4-token sentences: every precision 1, BP 1
    expect(sentenceBleuText('a b c d', 'a b c d')).to.equal(1);
    // hyp "a b c" vs ref "a b c d": p = 1, 1, 1, 0.1/1; BP = exp(1 - 4/3)
    near(sentenceBleuText('a b c d', 'a b c'), Math.exp(1 - 4 / 3) * Math.exp(0.25 * Math.log(0.1)), 1e-15);
    // hyp "the the the the" vs ref "the": p1 = 1/4, p2 = 0.1/3, p3 = 0.1/2, p4 = 0.1/1; longer than ref → BP 1
    near(
      sentenceBleuText('the', 'the the the the'),
      Math.exp(0.25 * (Math.log(1 / 4) + Math.log(0.1 / 3) + Math.log(0.1 / 2) + Math.log(0.1))),
      1e-15,
    );
    // no unigram match, or an empty side: 0 before any smoothing
    expect(sentenceBleuText('x', 'y')).to.equal(0);
    expect(sentenceBleuText('', '')).to.equal(0);
    expect(sentenceBleuText('a b', '')).to.equal(0);
  });

  it('takes the closest reference length, the shorter one on ties', () => {
    // hyp of 2 tokens, refs of 1 and 3 tokens: both 1 away → 1 is used → hyp longer → BP 1
    const b = sentenceBleu([['a', 'b', 'c'], ['a']], ['a', 'b'], { weights: [1] });
    expect(b).to.equal(1);
    // with only the 3-token ref: BP = exp(1 - 3/2)
    near(sentenceBleu([['a', 'b', 'c']], ['a', 'b'], { weights: [1] }), Math.exp(-0.5));
  });

  it('sums like math.fsum', () => {
    expect(fsum([0.1, 0.2, 0.3])).to.equal(0.6);
    expect(0.1 + 0.2 + 0.3).to.not.equal(0.6);
    expect(fsum([1e100, 1, -1e100])).to.equal(1);
    expect(fsum([1e-16, 1, 1e16])).to.equal(10000000000000002);
    expect(fsum([])).to.equal(0);
  });
});

describe('average-linkage clustering by hand', () => {
  it('merges with the Lance-Williams average and reports SciPy ids', () => {
    // d(0,1) = 0.2 merges first into id 3; d({0,1}, 2) = (0.6 + 0.8) / 2 = 0.7
    const m = averageLinkage([
      [0, 0.2, 0.6],
      [0.2, 0, 0.8],
      [0.6, 0.8, 0],
    ]);
    expect(m).to.deep.equal([
      { a: 0, b: 1, distance: 0.2, size: 2 },
      { a: 2, b: 3, distance: 0.7, size: 3 },
    ]);
    expect(
      agglomerativeLabels(
        [
          [0, 0.2, 0.6],
          [0.2, 0, 0.8],
          [0.6, 0.8, 0],
        ],
        0.7,
      ),
    ).to.deep.equal([0, 0, 1]);
    expect(
      agglomerativeLabels(
        [
          [0, 0.2, 0.6],
          [0.2, 0, 0.8],
          [0.6, 0.8, 0],
        ],
        0.7000001,
      ),
    ).to.deep.equal([0, 0, 0]);
  });

  it('breaks a chain tie as the nearest-neighbour chain does', () => {
    // A-B = B-C = 0.3, A-C = 0.9: the chain starts at A, takes B, and A-B merge first;
    // then d({A,B}, C) = 0.6 ≥ 0.5 keeps C apart
    expect(
      agglomerativeLabels(
        [
          [0, 0.3, 0.9],
          [0.3, 0, 0.3],
          [0.9, 0.3, 0],
        ],
        0.5,
      ),
    ).to.deep.equal([0, 0, 1]);
    // the same tie seen from C's side (order reversed) puts B with C
    expect(
      agglomerativeLabels(
        [
          [0, 0.3, 0.9],
          [0.3, 0, 0.3],
          [0.9, 0.3, 0],
        ]
          .map((r) => [...r].reverse())
          .reverse(),
        0.5,
      ),
    ).to.deep.equal([0, 0, 1]);
  });

  it('reads only the upper triangle and rejects malformed matrices', () => {
    expect(
      agglomerativeLabels(
        [
          [0, 0.1],
          [99, 0],
        ],
        0.5,
      ),
    ).to.deep.equal([0, 0]);
    expect(() => agglomerativeLabels([[0, 0.1], [0.1]], 0.5)).to.throw(/square/);
    expect(() =>
      agglomerativeLabels(
        [
          [0, NaN],
          [NaN, 0],
        ],
        0.5,
      ),
    ).to.throw(/not finite/);
    expect(agglomerativeLabels([], 0.5)).to.deep.equal([]);
    expect(agglomerativeLabels([[0]], 0.5)).to.deep.equal([0]);
  });

  it('gives each sentence its cluster share of the batch', () => {
    const r = repetitionShares(['what is 2 + 3', 'what is 2 + 3', 'name a prime', '']);
    expect(r.labels).to.deep.equal([0, 0, 1, 2]);
    expect(r.shares).to.deep.equal([0.5, 0.5, 0.25, 0.25]);
    expect(repetitionShares(['only one']).shares).to.deep.equal([1]);
    expect(repetitionShares([]).shares).to.deep.equal([]);
  });
});
