import { expect } from 'chai';
import { hashSeed, Rng } from '../../core/index.js';

describe('seeded RNG', () => {
  it('gives every seed its own stream (seeds 0..9999, same label)', () => {
    const seen = new Set<number>();
    for (let s = 0; s < 10000; s++) seen.add(hashSeed(s, 'x'));
    expect(seen.size).to.equal(10000);
    expect(new Rng(1, 'a').next()).to.not.equal(new Rng(2, 'a').next());
  });

  it('is reproducible and forks independent streams', () => {
    const a = new Rng(7, 'run');
    const b = new Rng(7, 'run');
    expect([a.next(), a.next()]).to.deep.equal([b.next(), b.next()]);
    expect(new Rng(7).fork('x').next()).to.not.equal(new Rng(7).fork('y').next());
    expect(new Rng(7).fork('x').next()).to.equal(new Rng(7, 'x').next());
  });

  it('draws integers inclusively and shuffles to a permutation', () => {
    const r = new Rng(3);
    const xs = Array.from({ length: 2000 }, () => r.int(0, 3));
    expect(new Set(xs)).to.deep.equal(new Set([0, 1, 2, 3]));
    expect(r.shuffle([1, 2, 3, 4, 5]).sort()).to.deep.equal([1, 2, 3, 4, 5]);
  });
});
