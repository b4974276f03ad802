import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import fc from 'fast-check';
import {
  discountedReturnRows,
  gspoSequenceRatio,
  gspoTokenRatio,
  reinforcePlusPlusAdvantage,
} from '../../../plugins/algorithms/public.js';
import type { LossAggregator, PolicyLoss } from '../../../core/index.js';
import { build, t2 } from './helpers.js';

const f32 = (x: number) => Math.fround(x);

interface Batch {
  B: number;
  T: number;
  mask: number[][];
  logp: number[][];
  old: number[][];
  rewards: number[];
  groups: string[];
  s: number[];
}

/**
 * A random batch: every row has at least one masked-in token; log-ratios in [-0.7, 0.7] so ratios fall both inside and
 * outside the clip band.
 */
const batchArb = (sRange: [number, number] = [0, 1]) =>
  fc
    .integer({ min: 1, max: 5 })
    .chain((B) =>
      fc.integer({ min: 1, max: 6 }).chain((T) =>
        fc.record({
          B: fc.constant(B),
          T: fc.constant(T),
          mask: fc
            .array(fc.array(fc.constantFrom(0, 1), { minLength: T, maxLength: T }), { minLength: B, maxLength: B })
            .map((m) => m.map((row) => (row.some((v) => v > 0) ? row : row.map((_, t) => (t === 0 ? 1 : 0))))),
          logp: fc.array(
            fc.array(fc.double({ min: -5, max: -0.01, noNaN: true }).map(f32), { minLength: T, maxLength: T }),
            { minLength: B, maxLength: B },
          ),
          old: fc.array(fc.array(fc.double({ min: -0.7, max: 0.7, noNaN: true }), { minLength: T, maxLength: T }), {
            minLength: B,
            maxLength: B,
          }),
          rewards: fc.array(fc.constantFrom(0, 0.25, 0.5, 1), { minLength: B, maxLength: B }),
          groups: fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: B, maxLength: B }),
          s: fc.array(fc.double({ min: sRange[0], max: sRange[1], noNaN: true }).map(f32), {
            minLength: B,
            maxLength: B,
          }),
        }),
      ),
    )
    .map((b): Batch => ({ ...b, old: b.old.map((row, i) => row.map((d, t) => f32((b.logp[i]?.[t] as number) - d))) }));

/** Advantages of GRPO for the batch, as a plain array. */
function grpoAdv(b: Batch): number[][] {
  const m = t2(b.mask);
  const a = build('advantage', 'grpo').compute({
    rewards: Float32Array.from(b.rewards),
    groupIds: b.groups,
    responseMask: m,
    fields: {},
  });
  const out = a.arraySync();
  tf.dispose([a, m]);
  return out;
}

function lossAndGrad(
  loss: PolicyLoss,
  agg: string,
  b: Batch,
  adv: number[][],
  logp: number[][] = b.logp,
  fields: Record<string, number[]> = {},
) {
  return tf.tidy(() => {
    const [lp, o, a, m] = [t2(logp), t2(b.old), t2(adv), t2(b.mask)];
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
      }).loss;
    const { value, grad } = tf.valueAndGrad(call)(lp);
    return { value: value.dataSync()[0] as number, grad: (grad as tf.Tensor2D).arraySync() };
  });
}

const AGGS = ['token-mean', 'seq-mean-token-sum', 'seq-mean-token-mean', 'seq-mean-token-sum-norm'];

describe('algorithm properties (fast-check)', () => {
  let before = 0;
  beforeEach(() => {
    before = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors, 'tensors leaked').to.equal(before);
  });

  it('ADPO with self-consistency ≥ s_hi is exactly GRPO with the symmetric clip and no dual clip (advantage, loss, gradient)', () => {
    fc.assert(
      fc.property(batchArb([0.8, 1]), fc.constantFrom(...AGGS), (b, agg) => {
        const m = t2(b.mask);
        const fields = { selfConsistency: Float32Array.from(b.s) };
        const aG = build('advantage', 'grpo').compute({
          rewards: Float32Array.from(b.rewards),
          groupIds: b.groups,
          responseMask: m,
          fields: {},
        });
        const aA = build('advantage', 'adpo').compute({
          rewards: Float32Array.from(b.rewards),
          groupIds: b.groups,
          responseMask: m,
          fields,
        });
        const [advG, advA] = [aG.arraySync(), aA.arraySync()];
        tf.dispose([m, aG, aA]);
        expect(advA).to.deep.equal(advG);
        // Agent0's ADPO has no dual clip; verl's vanilla does unless clip_ratio_c is null
        const g = lossAndGrad(build('policy-loss', 'vanilla', { clip_ratio_c: null }), agg, b, advG);
        const a = lossAndGrad(build('policy-loss', 'adpo'), agg, b, advA, b.logp, { selfConsistency: b.s });
        expect(a.value).to.equal(g.value);
        expect(a.grad).to.deep.equal(g.grad);
      }),
      { numRuns: 60 },
    );
  });

  it('below s_hi the ADPO advantage is the GRPO one times 0.6 + 0.4 · clip((s - 0.3)/0.5, 0, 1) ≤ 1', () => {
    fc.assert(
      fc.property(batchArb([0, 0.79]), (b) => {
        const m = t2(b.mask);
        const aG = build('advantage', 'grpo').compute({
          rewards: Float32Array.from(b.rewards),
          groupIds: b.groups,
          responseMask: m,
          fields: {},
        });
        const aA = build('advantage', 'adpo').compute({
          rewards: Float32Array.from(b.rewards),
          groupIds: b.groups,
          responseMask: m,
          fields: { selfConsistency: Float32Array.from(b.s) },
        });
        const [g, a] = [aG.arraySync(), aA.arraySync()];
        tf.dispose([m, aG, aA]);
        g.forEach((row, i) =>
          row.forEach((v, t) => {
            const scale = 0.6 + 0.4 * Math.min(1, Math.max(0, ((b.s[i] as number) - 0.3) / 0.5));
            expect(a[i]?.[t]).to.be.closeTo(v * scale, 1e-5);
            expect(Math.abs(a[i]?.[t] as number)).to.be.at.most(Math.abs(v) + 1e-7);
          }),
        );
      }),
      { numRuns: 40 },
    );
  });

  it('the gradient is exactly zero wherever the clip is active, and not where it is not', () => {
    const lossArb = fc.oneof(
      fc.record({
        name: fc.constant('vanilla'),
        lo: fc.double({ min: 0.05, max: 0.5, noNaN: true }),
        hi: fc.double({ min: 0.05, max: 0.5, noNaN: true }),
      }),
      fc.record({ name: fc.constant('dapo'), lo: fc.constant(0.2), hi: fc.constant(0.28) }),
      fc.record({ name: fc.constant('adpo'), lo: fc.constant(0.2), hi: fc.constant(NaN) }),
    );
    let clipped = 0,
      free = 0;
    fc.assert(
      fc.property(batchArb(), lossArb, fc.constantFrom(...AGGS), (b, l, agg) => {
        const adv = grpoAdv(b);
        const loss =
          l.name === 'vanilla'
            ? build('policy-loss', 'vanilla', { clip_ratio_low: l.lo, clip_ratio_high: l.hi })
            : build('policy-loss', l.name);
        const { grad } = lossAndGrad(loss, agg, b, adv, b.logp, l.name === 'adpo' ? { selfConsistency: b.s } : {});
        b.mask.forEach((row, i) =>
          row.forEach((mv, t) => {
            if (!mv) return;
            const A = adv[i]?.[t] as number;
            const r = Math.exp((b.logp[i]?.[t] as number) - (b.old[i]?.[t] as number));
            const hi =
              l.name === 'adpo' ? 0.2 + 0.1 * Math.min(1, Math.max(0, (0.8 - (b.s[i] as number)) / 0.5)) : l.hi;
            const g = grad[i]?.[t] as number;
            // stay 1e-4 away from the band's edges, where float32 and float64 may decide differently
            if ((A > 0 && r > 1 + hi + 1e-4) || (A < 0 && r < 1 - l.lo - 1e-4)) {
              expect(g, `clipped token (${i}, ${t})`).to.equal(0);
              clipped++;
            }
            if (Math.abs(A) > 1e-3 && r < 1 + hi - 1e-4 && r > 1 - l.lo + 1e-4) {
              expect(Math.abs(g), `unclipped token (${i}, ${t})`).to.be.greaterThan(0);
              free++;
            }
          }),
        );
      }),
      { numRuns: 80 },
    );
    expect(clipped, 'clipped tokens seen').to.be.greaterThan(3);
    expect(free, 'unclipped tokens seen').to.be.greaterThan(3);
  });

  it('GSPO: the ratio is one number per sequence, exp(mean masked log-ratio), and clipping zeroes the whole row', () => {
    fc.assert(
      fc.property(batchArb(), (b) => {
        const [lp, o, m] = [t2(b.logp), t2(b.old), t2(b.mask)];
        const tok = gspoTokenRatio(lp, o, m);
        const seq = gspoSequenceRatio(lp, o, m);
        const [tv, sv] = [tok.arraySync(), Array.from(seq.dataSync())];
        tf.dispose([lp, o, m, tok, seq]);
        b.mask.forEach((row, i) => {
          let n = 0,
            sum = 0;
          row.forEach((mv, t) => {
            if (mv) {
              n++;
              sum += (b.logp[i]?.[t] as number) - (b.old[i]?.[t] as number);
            }
          });
          expect(sv[i]).to.be.closeTo(Math.exp(sum / n), 1e-5);
          row.forEach((mv, t) => {
            if (mv) expect(tv[i]?.[t]).to.equal(sv[i]);
          });
        });
        // with a band of ±1e-3 almost every row is clipped on the side its advantage pushes; such rows get no gradient
        // at all
        const adv = grpoAdv(b);
        const { grad } = lossAndGrad(
          build('policy-loss', 'gspo', { clip_ratio_low: 1e-3, clip_ratio_high: 1e-3 }),
          'seq-mean-token-mean',
          b,
          adv,
        );
        b.mask.forEach((row, i) => {
          const A = adv[i]?.[row.indexOf(1)] as number;
          const s = sv[i] as number;
          if ((A > 0 && s > 1.0011) || (A < 0 && s < 0.9989))
            expect(
              grad[i]?.every((g) => g === 0),
              `row ${i}`,
            ).to.equal(true);
        });
      }),
      { numRuns: 60 },
    );
  });

  it('masked tokens never receive gradient, from any loss, aggregation or KL, even with extreme values there', () => {
    const losses = ['vanilla', 'dapo', 'gspo', 'adpo'];
    const kls = ['k1', 'abs', 'k2', 'k3', 'low_var_kl+', 'k1+'];
    fc.assert(
      fc.property(
        batchArb(),
        fc.constantFrom(...losses),
        fc.constantFrom(...AGGS),
        fc.constantFrom(...kls),
        fc.constantFrom(-1e3, 1e3, 80),
        (b, name, agg, klName, extreme) => {
          const adv = grpoAdv(b).map((row) => row.map((v) => (v === 0 ? 0.5 : v)));
          const logp = b.logp.map((row, i) => row.map((v, t) => (b.mask[i]?.[t] ? v : extreme)));
          const { value, grad } = lossAndGrad(
            build('policy-loss', name),
            agg,
            b,
            adv,
            logp,
            name === 'adpo' ? { selfConsistency: b.s } : {},
          );
          expect(Number.isFinite(value)).to.equal(true);
          const klGrad = tf.tidy(() => {
            const [lp, ref, m] = [t2(logp), t2(b.old), t2(b.mask)];
            const kl = build('kl', klName);
            const aggregator = build('loss-agg', agg) as LossAggregator;
            return (
              tf.grad((x: tf.Tensor) => aggregator.aggregate(kl.compute(x as tf.Tensor2D, ref), m))(lp) as tf.Tensor2D
            ).arraySync();
          });
          b.mask.forEach((row, i) =>
            row.forEach((mv, t) => {
              if (mv) return;
              expect(grad[i]?.[t], `${name} at masked (${i}, ${t})`).to.equal(0);
              expect(klGrad[i]?.[t], `${klName} at masked (${i}, ${t})`).to.equal(0);
            }),
          );
        },
      ),
      { numRuns: 80 },
    );
  });

  it('every aggregation: the micro-batch aggregates with the whole-batch norm add up to the full-batch value', () => {
    fc.assert(
      fc.property(batchArb(), fc.constantFrom(...AGGS), fc.integer({ min: 1, max: 4 }), (b, mode, size) => {
        const agg = build('loss-agg', mode) as LossAggregator;
        const norm = { tokens: b.mask.flat().reduce((a, v) => a + v, 0), seqs: b.B };
        const whole = tf.tidy(() => agg.aggregate(t2(b.logp), t2(b.mask)).dataSync()[0] as number);
        let parts = 0;
        for (let s = 0; s < b.B; s += size) {
          parts += tf.tidy(
            () =>
              agg.aggregate(t2(b.logp.slice(s, s + size)), t2(b.mask.slice(s, s + size)), norm).dataSync()[0] as number,
          );
        }
        expect(parts).to.be.closeTo(whole, 1e-5 * Math.max(1, Math.abs(whole)));
      }),
      { numRuns: 60 },
    );
  });

  it("REINFORCE++ (skip): observation tokens inserted in the middle of a response change no model token's advantage", () => {
    // Each row: model tokens, some with observation runs after them; compare with the same rows without observations.
    const rowArb = fc.array(fc.record({ obs: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(fc.array(rowArb, { minLength: 1, maxLength: 4 }), fc.constantFrom(1, 0.9, 0.5), (rows, gamma) => {
        const rewards = rows.map((_, i) => [1, 0, 0.5, 0.25][i % 4] as number);
        const withObs = rows.map((r) => r.flatMap((tok) => [1, ...new Array<number>(tok.obs).fill(0)]));
        const compact = rows.map((r) => r.map(() => 1));
        const pad = (m: number[][]) => {
          const T = Math.max(...m.map((x) => x.length));
          return m.map((x) => [...x, ...new Array<number>(T - x.length).fill(0)]);
        };
        const [mo, mc] = [t2(pad(withObs)), t2(pad(compact))];
        const [ao, ac] = [
          reinforcePlusPlusAdvantage(rewards, mo, { gamma }),
          reinforcePlusPlusAdvantage(rewards, mc, { gamma }),
        ];
        const [vo, vc] = [ao.arraySync(), ac.arraySync()];
        tf.dispose([mo, mc, ao, ac]);
        pad(withObs).forEach((row, i) => {
          const modelVals = row.map((m, t) => (m ? vo[i]?.[t] : undefined)).filter((x) => x !== undefined);
          expect(modelVals).to.deep.equal(vc[i]?.slice(0, rows[i]?.length));
          row.forEach((m, t) => {
            if (!m) expect(vo[i]?.[t]).to.equal(0);
          });
        });
        // and before whitening every model token of a row carries γ^(model tokens after it) · r
        discountedReturnRows(rewards, pad(withObs), gamma).forEach((row, i) => {
          const vals = row.filter((_, t) => pad(withObs)[i]?.[t]);
          vals.forEach((v, k) =>
            expect(v).to.be.closeTo((rewards[i] as number) * gamma ** (vals.length - 1 - k), 1e-12),
          );
        });
      }),
      { numRuns: 60 },
    );
  });

  it('REINFORCE++ (reset): model tokens before the last observation of a row get return 0 before whitening', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0, 1), { minLength: 1, maxLength: 10 }),
        fc.double({ min: 0.5, max: 2, noNaN: true }),
        (row, r) => {
          const mask = [[...row, 1]];
          const ret = discountedReturnRows([r], mask, 1, 'reset')[0] as number[];
          const lastObs = mask[0]?.lastIndexOf(0) ?? -1;
          ret.forEach((v, t) => expect(v).to.equal(t > lastObs ? r : 0));
        },
      ),
      { numRuns: 60 },
    );
  });
});
