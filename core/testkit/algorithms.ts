import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type {
  AdvantageEstimator,
  AdvantageInput,
  KlPenalty,
  LossAggregator,
  PolicyLoss,
  PolicyLossInput,
} from '../contracts/algorithms.js';
import { MissingFieldError } from '../contracts/fields.js';
import { suite } from './mocha.js';

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++)
    assert.ok(Math.abs((a[i] as number) - (b[i] as number)) <= tol, `${what}[${i}]: expected ${b[i]}, got ${a[i]}`);
}

export interface AdvantageCase {
  input: () => AdvantageInput;
  /** Expected advantages, row-major [B*T]. */
  expected?: number[];
}

/** Conformance suite for an AdvantageEstimator: shape, zero off-mask, required fields enforced. */
export function testAdvantage(name: string, est: AdvantageEstimator, cases: AdvantageCase[], tol = 1e-6): void {
  suite(`advantage conformance: ${name}`, (it) => {
    it('returns [B, T], zero where the mask is zero, and the expected values', () => {
      for (const c of cases) {
        const input = c.input();
        const out = est.compute(input);
        assert.deepEqual(out.shape, input.responseMask.shape);
        const v = out.dataSync();
        const m = input.responseMask.dataSync();
        for (let i = 0; i < v.length; i++) {
          assert.ok(Number.isFinite(v[i]), 'finite');
          if (m[i] === 0) assert.equal(v[i], 0, `masked position ${i} must be 0`);
        }
        if (c.expected) close(v, c.expected, tol, 'advantages');
        tf.dispose([out, input.responseMask]);
      }
    });
    it('throws MissingFieldError when a required field is absent', () => {
      if (est.requiredFields.length === 0 || cases.length === 0) return;
      const input = (cases[0] as AdvantageCase).input();
      assert.throws(() => est.compute({ ...input, fields: {} }), MissingFieldError);
      input.responseMask.dispose();
    });
  });
}

/** Conformance suite for a PolicyLoss: finite scalar, no gradient through masked tokens, expected value. */
export function testPolicyLoss(
  name: string,
  loss: PolicyLoss,
  cases: { input: () => PolicyLossInput; expected?: number }[],
  tol = 1e-6,
): void {
  suite(`policy-loss conformance: ${name}`, (it) => {
    it('returns a finite scalar (and the expected value)', () => {
      for (const c of cases) {
        const input = c.input();
        const out = loss.compute(input);
        assert.equal(out.loss.rank, 0);
        const v = out.loss.dataSync()[0] as number;
        assert.ok(Number.isFinite(v));
        if (c.expected !== undefined) close([v], [c.expected], tol, 'loss');
        tf.dispose([out.loss, ...Object.values(out.metrics)]);
      }
    });
    it('sends no gradient to masked tokens', () => {
      for (const c of cases) {
        const input = c.input();
        const g = tf.grad((lp: tf.Tensor) => loss.compute({ ...input, logProbs: lp as tf.Tensor2D }).loss)(
          input.logProbs,
        );
        const gv = g.dataSync();
        const m = input.responseMask.dataSync();
        for (let i = 0; i < gv.length; i++) if (m[i] === 0) assert.equal(gv[i], 0, `gradient at masked position ${i}`);
        g.dispose();
      }
    });
  });
}

/** Conformance suite for a KlPenalty: zero at equality, shape kept, expected values. */
export function testKl(
  name: string,
  kl: KlPenalty,
  cases: { logProbs: number[][]; refLogProbs: number[][]; expected?: number[][] }[],
  tol = 1e-6,
): void {
  suite(`kl conformance: ${name}`, (it) => {
    it('is zero when policy and reference agree', () => {
      const a = tf.tensor2d([
        [-0.5, -1.2],
        [-3, -0.01],
      ]);
      const out = kl.compute(a, a);
      close(out.dataSync(), [0, 0, 0, 0], 1e-7, 'kl(p, p)');
      tf.dispose([a, out]);
    });
    it('keeps the shape and gives the expected values', () => {
      for (const c of cases) {
        const a = tf.tensor2d(c.logProbs);
        const b = tf.tensor2d(c.refLogProbs);
        const out = kl.compute(a, b);
        assert.deepEqual(out.shape, a.shape);
        if (c.expected) close(out.dataSync(), c.expected.flat(), tol, 'kl');
        tf.dispose([a, b, out]);
      }
    });
  });
}

/** Conformance suite for a LossAggregator: scalar, and values under the mask alone decide it. */
export function testLossAggregator(
  name: string,
  agg: LossAggregator,
  cases: { loss: number[][]; mask: number[][]; expected: number }[],
  tol = 1e-6,
): void {
  suite(`loss-agg conformance: ${name}`, (it) => {
    it('gives the expected values', () => {
      for (const c of cases) {
        const out = tf.tidy(() => agg.aggregate(tf.tensor2d(c.loss), tf.tensor2d(c.mask)));
        close(out.dataSync(), [c.expected], tol, 'aggregate');
        out.dispose();
      }
    });
    it('ignores values where the mask is zero', () => {
      for (const c of cases) {
        const noisy = c.loss.map((row, i) => row.map((v, j) => (c.mask[i]?.[j] ? v : v + 1000)));
        const out = tf.tidy(() => agg.aggregate(tf.tensor2d(noisy), tf.tensor2d(c.mask)));
        close(out.dataSync(), [c.expected], tol, 'aggregate with noise off-mask');
        out.dispose();
      }
    });
  });
}
