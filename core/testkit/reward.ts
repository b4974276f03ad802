import assert from 'node:assert/strict';
import type { RewardFunction, RewardSample } from '../contracts/reward.js';
import { suite } from './mocha.js';

export interface RewardCases {
  /** Batches with the rewards expected for them (null: dropped), compared to `tolerance`. */
  batches: { batch: RewardSample[]; expected: (number | null)[] }[];
  tolerance?: number;
}

/** Conformance suite for a RewardFunction: one result per sample, finite values, expected numbers. */
export function testReward(
  name: string,
  make: () => RewardFunction | Promise<RewardFunction>,
  cases: RewardCases,
): void {
  const tol = cases.tolerance ?? 1e-9;
  suite(`reward conformance: ${name}`, (it) => {
    it('scores batches as expected', async () => {
      const r = await make();
      for (const { batch, expected } of cases.batches) {
        const got = await r.score(batch);
        assert.equal(got.length, batch.length, 'one result per sample');
        got.forEach((g, i) => {
          const e = expected[i];
          if (e === null || e === undefined) assert.equal(g.reward, null, `sample ${i} should be dropped`);
          else {
            assert.ok(typeof g.reward === 'number' && Number.isFinite(g.reward), `sample ${i}: finite reward`);
            assert.ok(Math.abs(g.reward - e) <= tol, `sample ${i}: expected ${e}, got ${g.reward}`);
          }
        });
      }
    });
    it('scores an empty batch as empty', async () => {
      const r = await make();
      assert.deepEqual(await r.score([]), []);
    });
  });
}
