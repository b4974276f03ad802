import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { build, expectClose, flat, t2 } from './helpers.js';
import type { LossAggregator, PolicyLoss } from '../../../core/index.js';

// Vectors from test/fixtures/fidelity/make_vectors.py, written from verl's core_algos (agg_loss,
// compute_policy_loss_vanilla) and Agent0's curriculum trainer, independently of this project's code.
const V = JSON.parse(readFileSync(new URL('../../fixtures/fidelity/vectors.json', import.meta.url), 'utf8')) as {
  aggregation: { name: string; mode: string; horizon?: number; loss: number[][]; mask: number[][]; expected: number }[];
  aggregationSplit: {
    mode: string;
    loss: number[][];
    mask: number[][];
    norm: { tokens: number; seqs: number };
    parts: { rows: number[]; expected: number }[];
    whole: number;
  }[];
  policyLosses: {
    name: string;
    reference: 'verl' | 'agent0-curriculum';
    options?: Record<string, unknown>;
    agg: string;
    logp: number[][];
    old: number[][];
    adv: number[][];
    mask: number[][];
    expected: number;
    metrics: Record<string, number>;
    grad: number[][];
  }[];
};

const AGENT0 = parse(readFileSync(new URL('../../../configs/algorithms/agent0.yaml', import.meta.url), 'utf8')) as {
  components: Record<string, { use: string; options?: Record<string, unknown> }>;
};

// verl divides a row's sum by n_i + 1e-8 (seq-mean-token-mean), a relative 1e-8 below n_i: hence 1e-7, not 1e-12, in
// float64
const TOL64 = 1e-7;
const dot = (w: Float64Array[], L: number[][]) =>
  w.reduce((acc, row, i) => acc + row.reduce((x, v, t) => x + v * L[i]![t]!, 0), 0);

describe('fidelity: loss aggregation equals verl agg_loss', () => {
  for (const c of V.aggregation) {
    it(`${c.name}`, () => {
      const agg = build('loss-agg', c.mode, c.horizon ? { horizon: c.horizon } : {}) as LossAggregator;
      const [l, m] = [t2(c.loss), t2(c.mask)];
      const v = agg.aggregate(l, m);
      expectClose([v.dataSync()[0] as number], [c.expected], 1e-6, c.name);
      tf.dispose([l, m, v]);
      // the fused path's weights give the same number
      expectClose([dot(agg.weights!(c.mask, undefined), c.loss)], [c.expected], TOL64, `${c.name} weights`);
    });
  }

  for (const c of V.aggregationSplit) {
    it(`${c.mode}: micro-batches with the whole batch's normalisers add up to the whole batch`, () => {
      const agg = build('loss-agg', c.mode) as LossAggregator;
      let sum = 0;
      for (const part of c.parts) {
        const L = part.rows.map((r) => c.loss[r]!);
        const M = part.rows.map((r) => c.mask[r]!);
        const [l, m] = [t2(L), t2(M)];
        const v = agg.aggregate(l, m, c.norm);
        expectClose([v.dataSync()[0] as number], [part.expected], 1e-6, `${c.mode} rows ${part.rows}`);
        expectClose([dot(agg.weights!(M, c.norm), L)], [part.expected], TOL64, `${c.mode} rows ${part.rows} weights`);
        sum += part.expected;
        tf.dispose([l, m, v]);
      }
      expectClose([sum], [c.whole], 1e-9, `${c.mode} parts`);
    });
  }
});

describe('fidelity: PPO clip equals verl and Agent0 (value, metrics, gradient)', () => {
  const check = (loss: PolicyLoss, c: (typeof V.policyLosses)[number]) => {
    const agg = build('loss-agg', c.agg) as LossAggregator;
    const [logp, old, adv, mask] = [t2(c.logp), t2(c.old), t2(c.adv), t2(c.mask)];
    const run = (lp: tf.Tensor2D) =>
      loss.compute({
        logProbs: lp,
        oldLogProbs: old,
        advantages: adv,
        responseMask: mask,
        fields: {},
        aggregator: agg,
      });
    const out = run(logp);
    expectClose([out.loss.dataSync()[0] as number], [c.expected], 1e-6, `${c.name} loss`);
    const m = (k: string) => out.metrics[k]!.dataSync()[0] as number;
    // verl / Agent0 pg_clipfrac counts both clipped sides; pg_clipfrac_lower is the dual clip
    expectClose(
      [m('pg_clipfrac_high') + m('pg_clipfrac_low'), m('pg_clipfrac_dual'), m('ppo_kl')],
      [c.metrics.pg_clipfrac!, c.metrics.pg_clipfrac_lower!, c.metrics.ppo_kl!],
      1e-6,
      `${c.name} metrics`,
    );
    const g = tf.grad((lp: tf.Tensor) => run(lp as tf.Tensor2D).loss)(logp);
    expectClose(g.dataSync(), flat(c.grad), 1e-5, `${c.name} gradient`);
    tf.dispose([logp, old, adv, mask, g, out.loss, ...Object.values(out.metrics)]);
  };

  for (const c of V.policyLosses.filter((x) => x.reference === 'verl')) {
    it(`policy-loss/vanilla: ${c.name}`, () => check(build('policy-loss', 'vanilla', c.options ?? {}), c));
  }

  it('policy-loss/vanilla defaults to the dual clip 3.0 (verl)', () => {
    const c = V.policyLosses.find(
      (x) => x.reference === 'verl' && Object.keys(x.options ?? {}).length === 0 && x.agg === 'token-mean',
    )!;
    expect(c.metrics.pg_clipfrac_lower, 'the vector must exercise the dual clip').to.be.greaterThan(0);
    check(build('policy-loss', 'vanilla'), c);
  });

  it("configs/algorithms/agent0.yaml's ppo_clip (the curriculum) equals Agent0's curriculum trainer", () => {
    const slot = AGENT0.components.ppo_clip!;
    expect(slot.use).to.equal('policy-loss/vanilla');
    check(
      build('policy-loss', 'vanilla', slot.options ?? {}),
      V.policyLosses.find((x) => x.reference === 'agent0-curriculum')!,
    );
  });

  it("configs/algorithms/agent0.yaml's vanilla_clip (the executor_grpo ablation) equals verl's defaults", () => {
    const slot = AGENT0.components.vanilla_clip!;
    expect(slot.use).to.equal('policy-loss/vanilla');
    check(
      build('policy-loss', 'vanilla', slot.options ?? {}),
      V.policyLosses.find((x) => x.name.startsWith('verl defaults (clip 0.2'))!,
    );
  });
});
