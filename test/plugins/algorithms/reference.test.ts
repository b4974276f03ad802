import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { build, expectClose, flat, t2 } from './helpers.js';
import type { FieldColumns, LossAggregator } from '../../../core/index.js';

// Vectors from scripts/algorithms_reference.py (float64 loops written from the formulas; gradients by finite
// differences).
function fixture<T>(name: string): { cases: T[] } {
  return JSON.parse(readFileSync(new URL(`../../fixtures/algorithms/${name}.json`, import.meta.url), 'utf8'));
}

interface AdvCase {
  name: string;
  estimator: string;
  options: Record<string, unknown>;
  rewards: number[];
  groupIds: string[];
  mask: number[][];
  fields: Record<string, number[]>;
  gamma?: number;
  expected: number[][];
}
interface AggCase {
  name: string;
  mode: string;
  loss: number[][];
  mask: number[][];
  norm?: { tokens: number; seqs: number };
  horizon?: number;
  expected: number;
}
interface LossCase {
  name: string;
  loss: string;
  options: Record<string, unknown>;
  agg: string;
  logp: number[][];
  old: number[][];
  adv: number[][];
  mask: number[][];
  fields: Record<string, number[]>;
  entropy?: number[][];
  expected: number;
  metrics: Record<string, number>;
  grad: number[][];
}
interface KlCase {
  name: string;
  type: string;
  logp: number[][];
  ref: number[][];
  expected: number[][];
  grad: number[][];
}

export function referenceSuite(title: string, hooks: () => void = () => {}): void {
  describe(title, () => {
    hooks();
    let before = 0;
    beforeEach(() => {
      before = tf.memory().numTensors;
    });
    afterEach(() => {
      expect(tf.memory().numTensors, 'tensors leaked').to.equal(before);
    });

    for (const c of fixture<AdvCase>('advantages').cases) {
      it(`advantage/${c.estimator}: ${c.name}`, () => {
        const est = build('advantage', c.estimator, c.options);
        const mask = t2(c.mask);
        const fields: FieldColumns = Object.fromEntries(
          Object.entries(c.fields).map(([k, v]) => [k, Float32Array.from(v)]),
        );
        const adv = est.compute({
          rewards: Float32Array.from(c.rewards),
          groupIds: c.groupIds,
          responseMask: mask,
          fields,
          gamma: c.gamma,
        });
        expect(adv.shape).to.deep.equal(mask.shape);
        expectClose(adv.dataSync(), flat(c.expected), 1e-6, c.name);
        tf.dispose([adv, mask]);
      });
    }

    for (const c of fixture<AggCase>('aggregation').cases) {
      it(`loss-agg/${c.name}`, () => {
        const agg = build('loss-agg', c.mode, c.horizon ? { horizon: c.horizon } : {});
        const [l, m] = [t2(c.loss), t2(c.mask)];
        const v = agg.aggregate(l, m, c.norm);
        expectClose([v.dataSync()[0]], [c.expected], 1e-6, c.name);
        tf.dispose([l, m, v]);
      });
    }

    for (const c of fixture<LossCase>('policy_losses').cases) {
      it(`policy-loss/${c.loss}: ${c.name} (value, metrics, gradient)`, () => {
        const loss = build('policy-loss', c.loss, c.options);
        const agg = build('loss-agg', c.agg) as LossAggregator;
        const [logp, old, adv, mask] = [t2(c.logp), t2(c.old), t2(c.adv), t2(c.mask)];
        const entropy = c.entropy ? t2(c.entropy) : undefined;
        const fields = Object.fromEntries(Object.entries(c.fields).map(([k, v]) => [k, tf.tensor1d(v)]));
        const run = (lp: tf.Tensor2D) =>
          loss.compute({
            logProbs: lp,
            oldLogProbs: old,
            advantages: adv,
            responseMask: mask,
            fields,
            aggregator: agg,
            entropy,
          });
        const out = run(logp);
        expectClose([out.loss.dataSync()[0]], [c.expected], 1e-6, `${c.name} loss`);
        for (const [k, v] of Object.entries(c.metrics)) {
          expect(out.metrics, `metric ${k}`).to.have.property(k);
          expectClose([out.metrics[k].dataSync()[0]], [v], 1e-6, `${c.name} ${k}`);
        }
        const g = tf.grad((lp: tf.Tensor) => run(lp as tf.Tensor2D).loss)(logp);
        expectClose(g.dataSync(), flat(c.grad), 1e-6, `${c.name} grad`);
        tf.dispose([out.loss, ...Object.values(out.metrics), g, logp, old, adv, mask, ...Object.values(fields)]);
        if (entropy) entropy.dispose();
      });
    }

    for (const c of fixture<KlCase>('kl').cases) {
      it(`kl/${c.type} (value and gradient)`, () => {
        const kl = build('kl', c.type);
        const [logp, ref] = [t2(c.logp), t2(c.ref)];
        const v = kl.compute(logp, ref);
        expectClose(v.dataSync(), flat(c.expected), 1e-6, `${c.name} value`);
        const g = tf.grad((lp: tf.Tensor) => tf.sum(kl.compute(lp as tf.Tensor2D, ref)))(logp);
        expectClose(g.dataSync(), flat(c.grad), 1e-6, `${c.name} grad`);
        tf.dispose([logp, ref, v, g]);
      });
    }
  });
}

referenceSuite('algorithms vs the Python reference (1e-6)');
