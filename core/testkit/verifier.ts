import assert from 'node:assert/strict';
import type { Verifier } from '../contracts/verifier.js';
import { suite } from './mocha.js';

export interface VerifierCases {
  /** Answer pairs with the expected verdict. */
  pairs: { gold: string; pred: string; expected: boolean }[];
  /** Whole responses with the answer that should be extracted (null: none). */
  extract?: { response: string; answer: string | null }[];
}

/** Conformance suite for a Verifier: verdicts, extraction, reflexivity, garbage never throws. */
export function testVerifier(name: string, make: () => Verifier | Promise<Verifier>, cases: VerifierCases): void {
  suite(`verifier conformance: ${name}`, (it) => {
    const withV = async (fn: (v: Verifier) => Promise<void>) => {
      const v = await make();
      try {
        await fn(v);
      } finally {
        await v.dispose?.();
      }
    };
    it('gives the expected verdicts', () =>
      withV(async (v) => {
        for (const c of cases.pairs)
          assert.equal(await v.equivalent(c.gold, c.pred), c.expected, `${c.gold} vs ${c.pred}`);
      }));
    it('treats every gold answer as equal to itself', () =>
      withV(async (v) => {
        for (const c of cases.pairs) assert.equal(await v.equivalent(c.gold, c.gold), true, `reflexive: ${c.gold}`);
      }));
    it('extracts answers from responses', () =>
      withV(async (v) => {
        for (const c of cases.extract ?? []) assert.equal(v.extract(c.response), c.answer, c.response.slice(0, 80));
      }));
    it('answers garbage with a verdict, never a throw', () =>
      withV(async (v) => {
        for (const g of ['', '\\frac{', '}}}', '\\boxed{', 'x'.repeat(20_000), '1/0', '\\sqrt{-1}^{99999}']) {
          assert.equal(typeof (await v.equivalent('1', g)), 'boolean');
          const r = await v.verify('1', g);
          assert.equal(typeof r.correct, 'boolean');
        }
      }));
  });
}
