import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import {
  dynamicSampling,
  dynamicSamplingFill,
  dynamicSamplingKeep,
  overlongPenalty,
} from '../../../plugins/algorithms/public.js';
import type { FieldColumns, LossAggregator, PolicyLoss, RewardFunction, Trajectory } from '../../../core/index.js';
import { build, expectClose, t2 } from './helpers.js';

// Every expected value below is worked out by hand in the comment next to it (independent of
// scripts/algorithms_reference.py).

describe('algorithms on hand-computed values', () => {
  let before = 0;
  beforeEach(() => {
    before = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors, 'tensors leaked').to.equal(before);
  });

  describe('advantage estimators', () => {
    /*
     * Group a: rewards 3, 1, 2: mean 2, deviations 1, -1, 0, unbiased variance (1 + 1 + 0)/2 = 1, std 1.
     * Group b: one sample with reward 5: mean 0, std 1.
     * Group c: rewards 4, 4: std 0.
     * Each row has one masked-out column (prompt / padding) where the advantage must be 0.
     */
    const rewards = [3, 1, 2, 5, 4, 4];
    const groupIds = ['a', 'a', 'a', 'b', 'c', 'c'];
    const mask = [
      [0, 1],
      [1, 0],
      [0, 1],
      [1, 0],
      [0, 1],
      [1, 0],
    ];
    const run = (name: string, options: Record<string, unknown> = {}, fields: FieldColumns = {}) => {
      const m = t2(mask);
      const a = build('advantage', name, options).compute({
        rewards: Float32Array.from(rewards),
        groupIds,
        responseMask: m,
        fields,
      });
      const rows = a.arraySync();
      tf.dispose([a, m]);
      // one value per row (on its single masked-in column); the other column must be exactly 0
      rows.forEach((r, i) => expect(r[(mask[i] as number[]).indexOf(0)], `row ${i} off the mask`).to.equal(0));
      return rows.map((r, i) => r[(mask[i] as number[]).indexOf(1)] as number);
    };

    it('grpo: (r - mean) / (std + 1e-6); a group of one has mean 0, std 1; equal rewards give 0', () => {
      // a: ±1 / (1 + 1e-6) = ±0.999999; b: 5 / (1 + 1e-6) = 4.999995; c: 0 / (0 + 1e-6) = 0
      expectClose(run('grpo'), [0.999999, -0.999999, 0, 4.999995, 0, 0], 1e-6);
    });

    it('grpo without std normalisation and drgrpo: r - mean', () => {
      expectClose(run('grpo', { norm_adv_by_std_in_grpo: false }), [1, -1, 0, 5, 0, 0], 1e-6);
      expectClose(run('drgrpo'), [1, -1, 0, 5, 0, 0], 1e-6);
    });

    it('rloo: r - mean of the others; a group of one keeps r', () => {
      // a: 3 - (1+2)/2 = 1.5, 1 - (3+2)/2 = -1.5, 2 - (3+1)/2 = 0; b: 5; c: 4 - 4 = 0
      expectClose(run('rloo'), [1.5, -1.5, 0, 5, 0, 0], 1e-6);
    });

    it('adpo: the GRPO advantage times 0.6 + 0.4 · clip((s - 0.3)/0.5, 0, 1)', () => {
      // s = 0.3 → 0.6;  0.55 → 0.6 + 0.4·0.5 = 0.8;  0.8 → 1;  0.1 → 0.6 (clipped);  1 → 1;  0.675 → 0.6 + 0.4·0.75 =
      // 0.9
      const s = Float32Array.from([0.3, 0.55, 0.8, 0.1, 1, 0.675]);
      // a: 0.999999·0.6, -0.999999·0.8, 0;  b: 4.999995·0.6;  c: 0, 0
      expectClose(run('adpo', {}, { selfConsistency: s }), [0.5999994, -0.7999992, 0, 2.999997, 0, 0], 1e-6);
      // a_min 0.5: s = 0.55 → 0.5 + 0.5·0.5 = 0.75; without std: -1 · 0.75
      expectClose(
        run('adpo', { a_min: 0.5, norm_adv_by_std_in_grpo: false }, { selfConsistency: s }),
        [0.5, -0.75, 0, 2.5, 0, 0],
        1e-6,
      );
    });

    /*
     * REINFORCE++, epsilon 0 (so the numbers are exact), gamma 0.5.
     * Row 0: mask [0, 1, 1, 0, 1] (an observation at column 3), reward 1.
     * Row 1: mask [0, 1, 1, 0, 0], reward 0: returns 0.
     */
    const rppMask = [
      [0, 1, 1, 0, 1],
      [0, 1, 1, 0, 0],
    ];
    const rpp = (options: Record<string, unknown>, r: number[], g: string[] = ['x', 'y']) => {
      const m = t2(rppMask);
      const a = build('advantage', options.baseline ? 'reinforce_plus_plus_baseline' : 'reinforce_plus_plus', {
        epsilon: 0,
        ...(options.baseline ? {} : options),
      }).compute({ rewards: Float32Array.from(r), groupIds: g, responseMask: m, fields: {} });
      const v = Array.from(a.dataSync());
      tf.dispose([a, m]);
      return v;
    };

    it('reinforce_plus_plus (skip): the return passes through the observation, then batch whitening', () => {
      // Returns on model tokens, row 0: t4 = 1, t2 = 0.5·1 = 0.5, t1 = 0.25 (column 3 is not a step); row 1: 0, 0.
      // Whitening over the 5 masked values [0.25, 0.5, 1, 0, 0]: mean 0.35, deviations -0.1, 0.15, 0.65, -0.35, -0.35,
      // Σ dev² = 0.01 + 0.0225 + 0.4225 + 0.1225 + 0.1225 = 0.7, unbiased variance 0.7/4 = 0.175, std 0.41833.
      expectClose(
        rpp({ gamma: 0.5 }, [1, 0]),
        [
          0,
          -0.1 / Math.sqrt(0.175),
          0.15 / Math.sqrt(0.175),
          0,
          0.65 / Math.sqrt(0.175),
          0,
          -0.35 / Math.sqrt(0.175),
          -0.35 / Math.sqrt(0.175),
          0,
          0,
        ],
        1e-6,
      );
      expectClose(rpp({ gamma: 0.5 }, [1, 0]).slice(0, 5), [0, -0.2390457, 0.3585686, 0, 1.5537972], 1e-6);
    });

    it('reinforce_plus_plus (reset, VeRL): the observation zeroes the return of the earlier turn', () => {
      // Returns: row 0 t4 = 1, t2 = t1 = 0 (reset at column 3); row 1: 0, 0. Values [0, 0, 1, 0, 0]: mean 0.2,
      // deviations -0.2 (×4) and 0.8, Σ dev² = 0.16 + 0.64 = 0.8, variance 0.2: -0.2/√0.2 = -0.4472136, 0.8/√0.2 =
      // 1.7888544.
      expectClose(
        rpp({ gamma: 0.5, at_masked: 'reset' }, [1, 0]),
        [0, -0.4472136, -0.4472136, 0, 1.7888544, 0, -0.4472136, -0.4472136, 0, 0],
        1e-6,
      );
    });

    it('reinforce_plus_plus_baseline: r - group mean on every model token, whitened over the batch', () => {
      // One group, rewards 1, 0: mean 0.5 → row 0: 0.5 on 3 tokens, row 1: -0.5 on 2 tokens.
      // Mean 0.1, deviations 0.4 (×3), -0.6 (×2), Σ dev² = 0.48 + 0.72 = 1.2, variance 0.3, std 0.5477226:
      // 0.4/0.5477226 = 0.7302967, -0.6/0.5477226 = -1.0954451.
      expectClose(
        rpp({ baseline: true }, [1, 0], ['g', 'g']),
        [0, 0.7302967, 0.7302967, 0, 0.7302967, 0, -1.0954451, -1.0954451, 0, 0],
        1e-6,
      );
    });
  });

  describe('policy losses', () => {
    /** Loss, metrics and d loss / d logp for logp = old + log(ratios). */
    function evalLoss(
      loss: PolicyLoss,
      ratios: number[][],
      adv: number[][],
      mask: number[][],
      agg = 'token-mean',
      fields: Record<string, number[]> = {},
      entropy?: number[][],
    ) {
      const old = ratios.map((r) => r.map(() => -1));
      const [o, a, m] = [t2(old), t2(adv), t2(mask)];
      const lp = t2(ratios.map((r) => r.map((x) => -1 + Math.log(x))));
      const ent = entropy ? t2(entropy) : undefined;
      const f = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, tf.tensor1d(v)]));
      const aggregator = build('loss-agg', agg) as LossAggregator;
      const call = (x: tf.Tensor) =>
        loss.compute({
          logProbs: x as tf.Tensor2D,
          oldLogProbs: o,
          advantages: a,
          responseMask: m,
          fields: f,
          aggregator,
          ...(ent ? { entropy: ent } : {}),
        });
      try {
        const out = call(lp);
        const g = tf.grad((x: tf.Tensor) => call(x).loss)(lp);
        const res = {
          loss: out.loss.dataSync()[0] as number,
          metrics: Object.fromEntries(Object.entries(out.metrics).map(([k, v]) => [k, v.dataSync()[0] as number])),
          grad: Array.from(g.dataSync()),
        };
        tf.dispose([out.loss, ...Object.values(out.metrics), g]);
        return res;
      } finally {
        tf.dispose([o, a, m, lp, ...(ent ? [ent] : []), ...Object.values(f)]);
      }
    }

    /*
     * Row 0, A = +1, ratios 1.5 and 1.1; row 1, A = -1, ratios 0.5 and 1.0; column 2 masked out (ratio 7, A ±1).
     * eps 0.2: L = max(-A r, -A clip(r, 0.8, 1.2)):
     *   r 1.5, A +1: max(-1.5, -1.2) = -1.2 (clip active, no gradient)
     *   r 1.1, A +1: -1.1                      (gradient -A r = -1.1)
     *   r 0.5, A -1: max(0.5, 0.8) = 0.8       (clip active, no gradient)
     *   r 1.0, A -1: 1.0                       (gradient -A r = 1.0)
     * token-mean over 4 tokens: (-1.2 - 1.1 + 0.8 + 1.0)/4 = -0.125; gradients / 4: -0.275, 0.25.
     */
    const ratios = [
      [1.5, 1.1, 7],
      [0.5, 1.0, 7],
    ];
    const adv = [
      [1, 1, 1],
      [-1, -1, -1],
    ];
    const mask = [
      [1, 1, 0],
      [1, 1, 0],
    ];

    it('vanilla: value, clip fractions, ratio stats, approx KL and zero gradient where clipped', () => {
      const r = evalLoss(build('policy-loss', 'vanilla'), ratios, adv, mask);
      expect(r.loss).to.be.closeTo(-0.125, 1e-6);
      expect(r.metrics.pg_loss).to.be.closeTo(-0.125, 1e-6);
      expect(r.metrics.pg_clipfrac_high).to.be.closeTo(0.25, 1e-7);
      expect(r.metrics.pg_clipfrac_low).to.be.closeTo(0.25, 1e-7);
      expect(r.metrics.pg_clipfrac_dual).to.equal(0);
      // (1.5 + 1.1 + 0.5 + 1)/4 = 1.025
      expect(r.metrics.ratio_mean).to.be.closeTo(1.025, 1e-6);
      expect(r.metrics.ratio_min).to.be.closeTo(0.5, 1e-6);
      expect(r.metrics.ratio_max).to.be.closeTo(1.5, 1e-6);
      // ppo_kl = mean(old - logp) = -(ln 1.5 + ln 1.1 + ln 0.5 + ln 1)/4 = 0.0480930
      expect(r.metrics.ppo_kl).to.be.closeTo(0.048093, 1e-6);
      expectClose(r.grad, [0, -0.275, 0, 0, 0.25, 0], 1e-6);
    });

    it('vanilla with separate low / high clip', () => {
      // eps_low 0.6, eps_high 0.6: nothing clips: (-1.5 - 1.1 + 0.5 + 1.0)/4 = -0.275; gradients -A r / 4
      const r = evalLoss(
        build('policy-loss', 'vanilla', { clip_ratio_low: 0.6, clip_ratio_high: 0.6 }),
        ratios,
        adv,
        mask,
      );
      expect(r.loss).to.be.closeTo(-0.275, 1e-6);
      expectClose(r.grad, [-0.375, -0.275, 0, 0.125, 0.25, 0], 1e-6);
      // eps_low 0.1 (r 1.0 ≥ 0.9 stays), eps_high 0.05: r 1.1 now clips at 1.05 → (-1.05 - 1.05 + 0.9 + 1.0)/4 = -0.05
      const s = evalLoss(
        build('policy-loss', 'vanilla', { clip_ratio_low: 0.1, clip_ratio_high: 0.05 }),
        ratios,
        adv,
        mask,
      );
      expect(s.loss).to.be.closeTo(-0.05, 1e-6);
      expect(s.metrics.pg_clipfrac_high).to.be.closeTo(0.5, 1e-7);
      expectClose(s.grad, [0, 0, 0, 0, 0.25, 0], 1e-6);
    });

    it('vanilla dual clip: for A < 0 the loss is capped at -A · c', () => {
      // A -1, r 4: max(4, 1.2) = 4, capped at c = 3 → 3, no gradient; A -1, r 2: max(2, 1.2) = 2 < 3 → 2, gradient 2/2.
      const r = evalLoss(build('policy-loss', 'vanilla', { clip_ratio_c: 3 }), [[4, 2]], [[-1, -1]], [[1, 1]]);
      expect(r.loss).to.be.closeTo((3 + 2) / 2, 1e-6);
      expect(r.metrics.pg_clipfrac_dual).to.be.closeTo(0.5, 1e-7);
      expectClose(r.grad, [0, 1], 1e-6);
      expect(() => build('policy-loss', 'vanilla', { clip_ratio_c: 1 })).to.throw(/clip_ratio_c/);
    });

    it('dapo: clip-higher leaves r = 1.25 unclipped for A > 0 (eps_high 0.28) where vanilla clips it', () => {
      // dapo: max(-1.25, -1.25) = -1.25; vanilla: max(-1.25, -1.2) = -1.2
      const d = evalLoss(build('policy-loss', 'dapo'), [[1.25]], [[1]], [[1]]);
      const v = evalLoss(build('policy-loss', 'vanilla'), [[1.25]], [[1]], [[1]]);
      expect(d.loss).to.be.closeTo(-1.25, 1e-6);
      expect(v.loss).to.be.closeTo(-1.2, 1e-6);
      expectClose(d.grad, [-1.25], 1e-6);
      expectClose(v.grad, [0], 1e-6);
      // the lower bound stays 0.8: A -1, r 0.75 → max(0.75, 0.8) = 0.8
      expect(evalLoss(build('policy-loss', 'dapo'), [[0.75]], [[-1]], [[1]]).loss).to.be.closeTo(0.8, 1e-6);
    });

    it('gspo: one ratio per sequence, exp(mean log-ratio), gradient s · A / n on every token', () => {
      // Row: token ratios 2 and 1 → mean log-ratio ln2/2 → s = √2 = 1.4142136 on both tokens; A = 1, band ±0.5 (no
      // clip).
      // seq-mean-token-mean: L = -s; d/dlogp_t = -A · s / n = -0.7071068 on both tokens (even the one whose own ratio
      // is 1).
      const r = evalLoss(
        build('policy-loss', 'gspo', { clip_ratio_low: 0.5, clip_ratio_high: 0.5 }),
        [[2, 1, 9]],
        [[1, 1, 1]],
        [[1, 1, 0]],
        'seq-mean-token-mean',
      );
      expect(r.loss).to.be.closeTo(-Math.SQRT2, 1e-6);
      expect(r.metrics.ratio_min).to.be.closeTo(Math.SQRT2, 1e-6);
      expect(r.metrics.ratio_max).to.be.closeTo(Math.SQRT2, 1e-6);
      expectClose(r.grad, [-Math.SQRT1_2, -Math.SQRT1_2, 0], 1e-6);
      // default band 3e-4 / 4e-4: s = √2 is clipped at 1.0004 → L = -1.0004, no gradient
      const c = evalLoss(build('policy-loss', 'gspo'), [[2, 1]], [[1, 1]], [[1, 1]], 'seq-mean-token-mean');
      expect(c.loss).to.be.closeTo(-1.0004, 1e-6);
      expect(c.metrics.pg_clipfrac_high).to.equal(1);
      expectClose(c.grad, [0, 0], 1e-7);
    });

    it('adpo: upper clip 1 + 0.2 + 0.1 · clip((0.8 - s)/0.5, 0, 1) per row, lower 0.8', () => {
      // All rows A = +1, ratio 1.28. s = 0.3: eps_high 0.3 → unclipped, -1.28; s = 0.55: 0.25 → clipped at -1.25;
      // s = 0.8: 0.2 → -1.2; s = 0.95: 0.2 → -1.2. token-mean: (-1.28 - 1.25 - 1.2 - 1.2)/4 = -1.2325.
      const s = [0.3, 0.55, 0.8, 0.95];
      const r = evalLoss(
        build('policy-loss', 'adpo'),
        s.map(() => [1.28]),
        s.map(() => [1]),
        s.map(() => [1]),
        'token-mean',
        { selfConsistency: s },
      );
      expect(r.loss).to.be.closeTo(-1.2325, 1e-6);
      expect(r.metrics.pg_clipfrac_high).to.be.closeTo(0.75, 1e-7);
      // mean upper clip over tokens: (0.3 + 0.25 + 0.2 + 0.2)/4 = 0.2375
      expect(r.metrics.clip_high_mean).to.be.closeTo(0.2375, 1e-6);
      expectClose(r.grad, [-1.28 / 4, 0, 0, 0], 1e-6);
      // inverse form: eps_high = 0.2 · 0.8 / clip(s, 0.3, 0.8): s 0.4 → 0.4, so ratio 1.35 is not clipped; s 0.8 → 0.2
      const inv = evalLoss(
        build('policy-loss', 'adpo', { clip_high_form: 'inverse' }),
        [[1.35], [1.35]],
        [[1], [1]],
        [[1], [1]],
        'token-mean',
        { selfConsistency: [0.4, 0.8] },
      );
      expect(inv.loss).to.be.closeTo((-1.35 - 1.2) / 2, 1e-6);
      expect(inv.metrics.clip_high_mean).to.be.closeTo(0.3, 1e-6);
    });

    it('entropy bonus: loss -= entropy_coeff · aggregated entropy', () => {
      // vanilla case above (-0.125) with entropies 1, 3 on row 0 and 2, 2 on row 1: token-mean 2 → -0.125 - 0.01·2 =
      // -0.145
      const r = evalLoss(
        build('policy-loss', 'vanilla', { entropy_coeff: 0.01 }),
        ratios,
        adv,
        mask,
        'token-mean',
        {},
        [
          [1, 3, 50],
          [2, 2, 50],
        ],
      );
      expect(r.loss).to.be.closeTo(-0.145, 1e-6);
      expect(r.metrics.pg_loss).to.be.closeTo(-0.125, 1e-6);
      expect(r.metrics.entropy).to.be.closeTo(2, 1e-6);
      expect(() => evalLoss(build('policy-loss', 'vanilla', { entropy_coeff: 0.01 }), ratios, adv, mask)).to.throw(
        /no entropy/,
      );
    });
  });

  describe('KL penalties', () => {
    /*
     * d = logp - ref = 0.5, -1, 0, -30, 30:
     *   k1 = d; abs = |d|; k2 = d²/2 = 0.125, 0.5, 0, 450, 450
     *   k3 = e^{-d} + d - 1: e^{-0.5} - 0.5 = 0.1065307; e - 2 = 0.7182818; 0; for d = -30 the exponent is capped at
     *        20 and the value clamped to 10; for d = 30: e^{-20} + 20 - 1 ≈ 19 → 10.
     * Gradients w.r.t. logp: k1: 1; abs: sign d; k2: d; k3: 1 - e^{-d} = 0.3934693, -1.7182818, 0, 0 (clamped), 0
     * (clamped);
     * '+' variants: k2's gradient d whatever the value.
     */
    const d = [0.5, -1, 0, -30, 30];
    const values: Record<string, number[]> = {
      k1: d,
      abs: d.map(Math.abs),
      k2: [0.125, 0.5, 0, 450, 450],
      mse: [0.125, 0.5, 0, 450, 450],
      k3: [0.1065307, 0.7182818, 0, 10, 10],
      low_var_kl: [0.1065307, 0.7182818, 0, 10, 10],
    };
    const grads: Record<string, number[]> = {
      k1: [1, 1, 1, 1, 1],
      abs: [1, -1, 0, -1, 1],
      k2: d,
      mse: d,
      k3: [0.3934693, -1.7182818, 0, 0, 0],
      low_var_kl: [0.3934693, -1.7182818, 0, 0, 0],
    };
    for (const base of Object.keys(values)) {
      for (const name of [base, `${base}+`]) {
        it(`${name}: values and gradient`, () => {
          const ref = t2([d.map(() => -2)]);
          const lp = t2([d.map((x) => -2 + x)]);
          const kl = build('kl', name);
          const v = kl.compute(lp, ref);
          const g = tf.grad((x: tf.Tensor) => tf.sum(kl.compute(x as tf.Tensor2D, ref)))(lp);
          expectClose(v.dataSync(), values[base] as number[], 1e-5, `${name} value`);
          // tf.abs' gradient at exactly 0 is 0 (sign 0), as the reference's central difference is
          expectClose(g.dataSync(), name.endsWith('+') ? d : (grads[base] as number[]), 1e-5, `${name} gradient`);
          tf.dispose([ref, lp, v, g]);
        });
      }
    }
  });

  describe('loss aggregation', () => {
    /*
     * Loss [[1, 2, 3], [4, 5, 6], [7, 8, 9]], mask [[1, 1, 1], [0, 0, 1], [0, 0, 0]] (4 tokens; the 4 and 5
     * are off the mask; row 3 has no tokens and, as in verl's agg_loss, is not counted in the mean over rows).
     *   token-mean: (1 + 2 + 3 + 6)/4 = 3
     *   seq-mean-token-sum: (6 + 6)/2 = 6
     *   seq-mean-token-mean: (6/3 + 6/1)/2 = 4
     *   seq-mean-token-sum-norm (verl: Σ/C, C = T = 3): 12/3 = 4; horizon 4: 12/4 = 3
     * As one micro-batch of a batch of 8 tokens in 4 rows with tokens: 12/8 = 1.5, 12/4 = 3, 8/4 = 2,
     * and sum-norm is still 12/3 = 4 (it does not divide by the rows).
     */
    const cases: [string, number, number, Record<string, unknown>?][] = [
      ['token-mean', 3, 1.5],
      ['seq-mean-token-sum', 6, 3],
      ['seq-mean-token-mean', 4, 2],
      ['seq-mean-token-sum-norm', 4, 4],
      ['seq-mean-token-sum-norm', 3, 3, { horizon: 4 }],
    ];
    for (const [mode, whole, share, options] of cases) {
      it(`${mode}${options ? ' ' + JSON.stringify(options) : ''}`, () => {
        const agg = build('loss-agg', mode, options ?? {});
        const L = [
          [1, 2, 3],
          [4, 5, 6],
          [7, 8, 9],
        ];
        const mask = [
          [1, 1, 1],
          [0, 0, 1],
          [0, 0, 0],
        ];
        const [l, m] = [t2(L), t2(mask)];
        const a = agg.aggregate(l, m);
        const b = agg.aggregate(l, m, { tokens: 8, seqs: 4 });
        expectClose([a.dataSync()[0] as number, b.dataSync()[0] as number], [whole, share], 1e-6, mode);
        tf.dispose([l, m, a, b]);
        // the fused path's per-token weights: Σ w·L gives the same two numbers
        const dot = (w: Float64Array[]) =>
          w.reduce((acc, row, i) => acc + row.reduce((x, v, t) => x + v * L[i]![t]!, 0), 0);
        expectClose(
          [dot(agg.weights!(mask)), dot(agg.weights!(mask, { tokens: 8, seqs: 4 }))],
          [whole, share],
          1e-12,
          `${mode} weights`,
        );
        expect(agg.weights!(mask)[1]!.slice(0, 2), 'off the mask').to.deep.equal(new Float64Array([0, 0]));
      });
    }
  });

  describe('DAPO extras', () => {
    it('overlongPenalty: 0, then a ramp to -factor at L_max, -factor beyond', () => {
      // L_max 100, L_cache 20: free up to 80; 90 → (80 - 90)/20 = -0.5; 100 → -1; 101 → -1
      const o = { maxLength: 100, cacheLength: 20 };
      expect([80, 90, 100, 101].map((n) => overlongPenalty(n, o))).to.deep.equal([0, -0.5, -1, -1]);
      expect(overlongPenalty(90, { ...o, factor: 0.5 })).to.equal(-0.25);
      expect(() => overlongPenalty(1, { maxLength: 10, cacheLength: 0 })).to.throw(/cacheLength/);
    });

    it('reward/overlong counts model tokens of the trajectory (observations excluded) by default', async () => {
      const traj = (mask: number[]) => ({
        trajectory: { responseIds: mask.map(() => 1), responseMask: mask } as unknown as Trajectory,
      });
      const r = build('reward', 'overlong', { max_length: 10, buffer_length: 4 }) as RewardFunction;
      // 8 model tokens + 4 observation tokens: (6 - 8)/4 = -0.5; 'all' counts 12 → beyond L_max → -1
      const model = await r.score([{ response: '', task: {} as never, ...traj([1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]) }]);
      expect(model[0]).to.deep.equal({ reward: -0.5, parts: { length: 8 } });
      const all = await (
        build('reward', 'overlong', { max_length: 10, buffer_length: 4, count: 'all' }) as RewardFunction
      ).score([{ response: '', task: {} as never, ...traj([1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]) }]);
      expect(all[0]?.reward).to.equal(-1);
      expect(() => build('reward', 'overlong', { max_length: 10, buffer_length: 11 })).to.throw(/buffer_length/);
      let err: unknown;
      try {
        await r.score([{ response: 'x', task: {} as never }]);
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.match(/needs RewardSample.trajectory/);
    });

    it('dynamicSampling keeps groups whose rewards differ (and single-sample groups), up to the target', () => {
      const groups = [
        { id: 'same', rewards: [1, 1] },
        { id: 'mixed', rewards: [0, 1] },
        { id: 'same-after-null', rewards: [null, 1, 1] },
        { id: 'single', rewards: [0.5] },
        { id: 'all-null', rewards: [null, null] },
        { id: 'mixed2', rewards: [0.2, null, 0] },
      ];
      const r = dynamicSampling(groups);
      expect(r.kept.map((g) => g.id)).to.deep.equal(['mixed', 'single', 'mixed2']);
      expect(r.dropped.map((g) => g.id)).to.deep.equal(['same', 'same-after-null', 'all-null']);
      expect(r.missing).to.equal(0);
      const t = dynamicSampling(groups, { targetGroups: 2 });
      expect(t.kept.map((g) => g.id)).to.deep.equal(['mixed', 'single']);
      expect(t.surplus.map((g) => g.id)).to.deep.equal(['mixed2']);
      expect(dynamicSampling(groups, { targetGroups: 5 }).missing).to.equal(2);
      // row view
      expect(dynamicSamplingKeep([1, 1, 0, 1, 3], ['a', 'a', 'b', 'b', 'c'])).to.deep.equal({
        keep: [2, 3, 4],
        droppedGroups: ['a'],
      });
    });

    it('dynamicSamplingFill generates until the target is met, truncating the last round', async () => {
      const rounds = [
        [{ rewards: [1, 1] }, { rewards: [0, 1] }], // 1 informative
        [{ rewards: [0, 0] }], // 0
        [{ rewards: [1, 0] }, { rewards: [0.5, 1] }, { rewards: [0, 1] }], // 3, only 2 needed
      ];
      const asked: number[] = [];
      const r = await dynamicSamplingFill(
        async (round, wanted) => {
          asked.push(wanted);
          return rounds[round] ?? [];
        },
        { targetGroups: 3, maxRounds: 10 },
      );
      expect(asked).to.deep.equal([3, 2, 2]);
      expect(r.groups).to.deep.equal([{ rewards: [0, 1] }, { rewards: [1, 0] }, { rewards: [0.5, 1] }]);
      expect(r).to.include({ rounds: 3, generated: 6, dropped: 2, filled: true });
      const short = await dynamicSamplingFill(async () => [{ rewards: [1, 1] }], { targetGroups: 1, maxRounds: 2 });
      expect(short).to.include({ rounds: 2, filled: false });
      expect(short.groups).to.deep.equal([]);
    });
  });
});
