import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { expect } from 'chai';
import { MissingFieldError, type AdvantageEstimator, type SampleFields, type Trajectory } from '../../core/index.js';
import { rlStep, trajectoryBatch } from '../../core/train/index.js';
import { build } from '../plugins/algorithms/helpers.js';
import { BigramPolicy, softmax } from './bigram-policy.js';

const V = 10;
/** A fixed, non-uniform logits table (no randomness: the test is deterministic). */
const W0 = Array.from({ length: V }, (_, a) =>
  Array.from({ length: V }, (_, b) => 0.3 * Math.sin(1.7 * a + 0.9 * b + 0.1 * a * b)),
);

function traj(
  id: string,
  groupId: string,
  promptIds: number[],
  responseIds: number[],
  responseMask?: number[],
  fields: SampleFields = {},
): Trajectory {
  return {
    id,
    groupId,
    promptIds,
    responseIds,
    responseMask: responseMask ?? responseIds.map(() => 1),
    logProbs: responseIds.map(() => 0),
    text: '',
    stopReason: 'eos',
    turns: 1,
    toolCalls: 0,
    toolErrors: 0,
    fields,
    metrics: {},
  };
}

/*
 * Four trajectories, two groups, different lengths; row 1 has an observation run [7, 8, 9] in the
 * middle of its response (mask 0), as a tool call's output would.
 */
const TRAJS: Trajectory[] = [
  traj('a0', 'a', [1, 2], [3, 4, 5]),
  traj('a1', 'a', [1, 2], [3, 7, 8, 9, 4, 6], [1, 0, 0, 0, 1, 1]),
  traj('b0', 'b', [2], [5, 5, 3, 4]),
  traj('b1', 'b', [2], [6]),
];
const REWARDS = [1, 0, 0.5, 0];

/**
 * GRPO advantage of a group of two with rewards differing by d: ±(d/2) / (d/√2 + 1e-6) (unbiased std of two values is
 * d/√2).
 */
const grpoPair = (d: number) => d / 2 / (d / Math.SQRT2 + 1e-6);
const ADV = [grpoPair(1), -grpoPair(1), grpoPair(0.5), -grpoPair(0.5)];

/** Masked tokens of each row as (prev, next) pairs, read straight from the trajectories. */
function maskedPairs(ts: Trajectory[]): { row: number; prev: number; next: number }[] {
  const out: { row: number; prev: number; next: number }[] = [];
  ts.forEach((t, row) => {
    const ids = [...t.promptIds, ...t.responseIds];
    t.responseMask.forEach((m, j) => {
      if (m > 0) {
        const p = t.promptIds.length + j;
        out.push({ row, prev: ids[p - 1] as number, next: ids[p] as number });
      }
    });
  });
  return out;
}

/**
 * Gradient of Σ_(i,t) w_(i,t) · log p(next | prev) w.r.t. the logits table, by hand in float64:
 * ∂ log softmax(W[a])_b / ∂W[a, c] = [b = c] - softmax(W[a])_c.
 */
function gradOfWeightedLogp(W: number[][], terms: { prev: number; next: number; w: number }[]): number[][] {
  const g = W.map((row) => row.map(() => 0));
  for (const { prev, next, w } of terms) {
    const p = softmax(W[prev] as number[]);
    for (let c = 0; c < V; c++) (g[prev] as number[])[c] += w * ((c === next ? 1 : 0) - (p[c] as number));
  }
  return g;
}

function expectMatClose(a: number[][], b: number[][], tol: number, what: string): void {
  a.forEach((row, i) =>
    row.forEach((v, j) => {
      const e = (b[i] as number[])[j] as number;
      if (!(Math.abs(v - e) <= tol)) expect.fail(`${what}[${i}][${j}]: got ${v}, expected ${e}`);
    }),
  );
}

const components = () => ({
  advantage: build('advantage', 'grpo'),
  loss: build('policy-loss', 'vanilla'),
  aggregator: build('loss-agg', 'token-mean'),
});

function rlStepSuite(title: string, hooks: () => void = () => {}): void {
  describe(title, () => {
    hooks();
    let before = 0;
    beforeEach(() => {
      before = tf.memory().numTensors;
    });
    afterEach(() => {
      expect(tf.memory().numTensors, 'tensors leaked').to.equal(before);
    });

    it('lays trajectories out right-padded, the mask on response columns only', () => {
      const { batch, responseMask, T } = trajectoryBatch(TRAJS.slice(0, 2), 0);
      expect(T).to.equal(8);
      expect(batch.inputIds).to.deep.equal([
        [1, 2, 3, 4, 5, 0, 0, 0],
        [1, 2, 3, 7, 8, 9, 4, 6],
      ]);
      expect(batch.attentionMask[0]).to.deep.equal([1, 1, 1, 1, 1, 0, 0, 0]);
      expect(responseMask).to.deep.equal([
        [0, 0, 1, 1, 1, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 1, 1],
      ]);
    });

    for (const microBatchSize of [undefined, 1, 3]) {
      it(`token-mean GRPO step: loss and gradient equal the hand-computed ones (microBatchSize ${microBatchSize ?? 'none'})`, async () => {
        const policy = new BigramPolicy(V, W0);
        const m = await rlStep({
          policy,
          trajectories: TRAJS,
          rewards: REWARDS,
          ...components(),
          ...(microBatchSize ? { microBatchSize } : {}),
        });
        // On-policy first step: ratio = 1, no clipping, so loss = -Σ_(i,t) A_i / N over the N masked tokens.
        const pairs = maskedPairs(TRAJS);
        const N = pairs.length;
        expect(N).to.equal(3 + 3 + 4 + 1);
        const expectedLoss = -pairs.reduce((a, p) => a + (ADV[p.row] as number), 0) / N;
        expect(m.loss).to.be.closeTo(expectedLoss, 1e-6);
        expect(m.pg_loss).to.be.closeTo(expectedLoss, 1e-6);
        expect(m.ratio_mean).to.be.closeTo(1, 1e-6);
        expect(m.pg_clipfrac_high).to.equal(0);
        // ∂loss/∂W = -(1/N) Σ A_i ∂log p
        const g = gradOfWeightedLogp(
          W0,
          pairs.map((p) => ({ prev: p.prev, next: p.next, w: -(ADV[p.row] as number) / N })),
        );
        expectMatClose(policy.lastGrad, g, 1e-6, 'gradient');
        expect(m.advantage_max).to.be.closeTo(grpoPair(1), 1e-6);
        expect(m.advantage_min).to.be.closeTo(-grpoPair(1), 1e-6);
        expect(m.reward_mean).to.equal(0.375);
        expect(m.optimizer_steps).to.equal(1);
        // the trajectories carry sampling log-probs 0, so the diff is the mean / max of -log p over model tokens
        const nll = pairs.map((p) => -Math.log(softmax(W0[p.prev] as number[])[p.next] as number));
        expect(m.rollout_logprob_diff_mean).to.be.closeTo(nll.reduce((a, x) => a + x, 0) / N, 1e-5);
        expect(m.rollout_logprob_diff_max).to.be.closeTo(Math.max(...nll), 1e-5);
        policy.dispose();
      });
    }

    it('seq-mean-token-mean: gradient weights each token by 1 / (B · n_i), micro-batched or not', async () => {
      const pairs = maskedPairs(TRAJS);
      const n = [3, 3, 4, 1];
      const g = gradOfWeightedLogp(
        W0,
        pairs.map((p) => ({ prev: p.prev, next: p.next, w: -(ADV[p.row] as number) / (4 * (n[p.row] as number)) })),
      );
      for (const microBatchSize of [undefined, 1]) {
        const policy = new BigramPolicy(V, W0);
        const m = await rlStep({
          policy,
          trajectories: TRAJS,
          rewards: REWARDS,
          ...components(),
          aggregator: build('loss-agg', 'seq-mean-token-mean'),
          ...(microBatchSize ? { microBatchSize } : {}),
        });
        expect(m.loss).to.be.closeTo(-ADV.reduce((a, x) => a + x, 0) / 4, 1e-6);
        expectMatClose(policy.lastGrad, g, 1e-6, `gradient (micro ${microBatchSize})`);
        policy.dispose();
      }
    });

    it('seq-mean-token-mean: a row without response tokens is not counted in the mean over rows (verl)', async () => {
      // a fifth trajectory whose response is all observation: S = 4 rows with tokens, not 5
      const trajs = [...TRAJS, traj('c0', 'c', [1], [7, 8], [0, 0])];
      const pairs = maskedPairs(trajs);
      const n = [3, 3, 4, 1];
      const g = gradOfWeightedLogp(
        W0,
        pairs.map((p) => ({ prev: p.prev, next: p.next, w: -(ADV[p.row] as number) / (4 * (n[p.row] as number)) })),
      );
      for (const microBatchSize of [undefined, 1, 2]) {
        const policy = new BigramPolicy(V, W0);
        const m = await rlStep({
          policy,
          trajectories: trajs,
          rewards: [...REWARDS, 1],
          ...components(),
          aggregator: build('loss-agg', 'seq-mean-token-mean'),
          ...(microBatchSize ? { microBatchSize } : {}),
        });
        expect(m.loss).to.be.closeTo(-ADV.reduce((a, x) => a + x, 0) / 4, 1e-6);
        expectMatClose(policy.lastGrad, g, 1e-6, `gradient (micro ${microBatchSize})`);
        policy.dispose();
      }
    });

    it('micro-batched accumulation equals the full batch over several off-policy steps (weights and metrics)', async () => {
      const run = async (microBatchSize?: number) => {
        const policy = new BigramPolicy(V, W0, 4); // a large step so later passes leave the clip band
        const m = await rlStep({
          policy,
          trajectories: TRAJS,
          rewards: REWARDS,
          ...components(),
          miniBatchSize: 2,
          ppoEpochs: 3,
          ...(microBatchSize ? { microBatchSize } : {}),
        });
        const w = policy.W.arraySync() as number[][];
        policy.dispose();
        return { m, w };
      };
      const full = await run();
      const micro = await run(1);
      expect(full.m.optimizer_steps).to.equal(6);
      expectMatClose(micro.w, full.w, 1e-6, 'weights after 6 steps');
      expect(full.m.pg_clipfrac_high + full.m.pg_clipfrac_low, 'the test must exercise clipping').to.be.greaterThan(0);
      for (const k of [
        'loss',
        'pg_loss',
        'pg_clipfrac_high',
        'pg_clipfrac_low',
        'ratio_mean',
        'ratio_min',
        'ratio_max',
        'ppo_kl',
        'entropy',
        'grad_norm',
      ]) {
        expect(micro.m[k], k).to.be.closeTo(full.m[k] as number, 1e-6);
      }
      expect(full.m.ratio_max).to.be.greaterThan(1.2);
    });

    it('observation tokens (responseMask 0) get no gradient', async () => {
      const policy = new BigramPolicy(V, W0);
      await rlStep({ policy, trajectories: TRAJS, rewards: REWARDS, ...components(), microBatchSize: 2 });
      // 7 → 8 and 8 → 9 occur only inside the observation: their table rows must not move at all.
      expect(policy.lastGrad[7]).to.deep.equal(new Array(V).fill(0));
      expect(policy.lastGrad[8]).to.deep.equal(new Array(V).fill(0));
      // 9 → 4 is the model token right after the observation: trained.
      expect(Math.max(...(policy.lastGrad[9] as number[]).map(Math.abs))).to.be.greaterThan(1e-3);
      // 3 → 7 is the observation's first token: row 3 only gets what the model tokens 3 → 4 give it.
      const pairs = maskedPairs(TRAJS).filter((p) => p.prev === 3);
      const g3 = gradOfWeightedLogp(
        W0,
        pairs.map((p) => ({ prev: 3, next: p.next, w: -(ADV[p.row] as number) / 11 })),
      )[3] as number[];
      expectMatClose([policy.lastGrad[3] as number[]], [g3], 1e-6, 'row 3');
      policy.dispose();
    });

    it('ADPO without the selfConsistency field throws MissingFieldError, naming the row', async () => {
      const policy = new BigramPolicy(V, W0);
      const ts = TRAJS.map((t, i) => ({ ...t, fields: i === 2 ? {} : { selfConsistency: 0.5 } }));
      const adpo = {
        advantage: build('advantage', 'adpo'),
        loss: build('policy-loss', 'adpo'),
        aggregator: build('loss-agg', 'token-mean'),
      };
      let err: unknown;
      try {
        await rlStep({ policy, trajectories: ts, rewards: REWARDS, ...adpo });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(MissingFieldError);
      expect((err as MissingFieldError).field).to.equal('selfConsistency');
      expect((err as MissingFieldError).row).to.equal(2);
      // The loss alone needs it too (a GRPO advantage does not save it).
      err = undefined;
      try {
        await rlStep({
          policy,
          trajectories: ts,
          rewards: REWARDS,
          ...components(),
          loss: build('policy-loss', 'adpo'),
        });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(MissingFieldError);
      expect(policy.steps, 'no step was taken').to.equal(0);
      policy.dispose();
    });

    it('ADPO with self-consistency ≥ s_hi takes exactly the GRPO step (symmetric clip)', async () => {
      const ts = TRAJS.map((t, i) => ({ ...t, fields: { selfConsistency: [0.8, 0.8, 0.95, 1][i] as number } }));
      const run = async (algo: 'grpo' | 'adpo') => {
        const policy = new BigramPolicy(V, W0, 4);
        await rlStep({
          policy,
          trajectories: ts,
          rewards: REWARDS,
          miniBatchSize: 2,
          ppoEpochs: 2,
          advantage: build('advantage', algo),
          loss: build('policy-loss', algo === 'grpo' ? 'vanilla' : 'adpo'),
          aggregator: build('loss-agg', 'token-mean'),
        });
        const w = policy.W.arraySync() as number[][];
        policy.dispose();
        return w;
      };
      expect(await run('adpo')).to.deep.equal(await run('grpo'));
    });

    it('adds the KL loss term: kl_loss is the token mean of k3, its gradient is klCoef · ∇KL', async () => {
      const shifted = W0.map((row, a) => row.map((x, b) => x + 0.4 * Math.cos(a - 2 * b)));
      const refPolicy = new BigramPolicy(V, W0, 0.1, true);
      const run = async (klCoef: number) => {
        const policy = new BigramPolicy(V, shifted);
        const m = await rlStep({
          policy,
          reference: refPolicy,
          trajectories: TRAJS,
          rewards: REWARDS,
          ...components(),
          kl: build('kl', 'low_var_kl'),
          klCoef,
          microBatchSize: 3,
        });
        const g = policy.lastGrad;
        policy.dispose();
        return { m, g };
      };
      const withKl = await run(0.1);
      const without = await run(0);
      const pairs = maskedPairs(TRAJS);
      // k3 with d = ref - logp: e^d - d - 1; ∂/∂logp = 1 - e^d.
      const lp = (W: number[][], p: { prev: number; next: number }) =>
        Math.log(softmax(W[p.prev] as number[])[p.next] as number);
      const d = pairs.map((p) => lp(W0, p) - lp(shifted, p));
      const k3 = d.reduce((a, x) => a + Math.exp(x) - x - 1, 0) / pairs.length;
      expect(withKl.m.kl_loss).to.be.closeTo(k3, 1e-6);
      expect(without.m.kl_loss, 'reported even at coefficient 0').to.be.closeTo(k3, 1e-6);
      expect(withKl.m.loss - without.m.loss).to.be.closeTo(0.1 * k3, 1e-6);
      const gKl = gradOfWeightedLogp(
        shifted,
        pairs.map((p, k) => ({ ...p, w: (0.1 * (1 - Math.exp(d[k] as number))) / pairs.length })),
      );
      expectMatClose(
        withKl.g.map((row, i) => row.map((x, j) => x - ((without.g[i] as number[])[j] as number))),
        gKl,
        1e-6,
        'KL gradient',
      );
      refPolicy.dispose();
    });

    it('KL in the reward: each reward loses rewardKlCoef · Σ_t kl(old, ref) before the advantage', async () => {
      const shifted = W0.map((row, a) => row.map((x, b) => x + 0.4 * Math.cos(a - 2 * b)));
      const refPolicy = new BigramPolicy(V, W0, 0.1, true);
      const policy = new BigramPolicy(V, shifted);
      let seen: number[] = [];
      const recording: AdvantageEstimator = {
        requiredFields: [],
        compute: (i) => {
          seen = Array.from(i.rewards);
          return tf.mul(i.responseMask, 0) as tf.Tensor2D;
        },
      };
      const m = await rlStep({
        policy,
        reference: refPolicy,
        trajectories: TRAJS,
        rewards: REWARDS,
        ...components(),
        advantage: recording,
        rewardKl: build('kl', 'k1'),
        rewardKlCoef: 0.5,
      });
      const lp = (W: number[][], p: { prev: number; next: number }) =>
        Math.log(softmax(W[p.prev] as number[])[p.next] as number);
      const rowKl = [0, 0, 0, 0];
      for (const p of maskedPairs(TRAJS)) rowKl[p.row] += lp(shifted, p) - lp(W0, p);
      seen.forEach((r, i) => expect(r).to.be.closeTo((REWARDS[i] as number) - 0.5 * (rowKl[i] as number), 1e-6));
      expect(m.reward_kl_mean).to.be.closeTo(rowKl.reduce((a, x) => a + x, 0) / 4, 1e-6);
      policy.dispose();
      refPolicy.dispose();
    });

    it('one GRPO step on a toy reward raises the probability of the rewarded token', async () => {
      const policy = new BigramPolicy(V, W0, 0.5);
      // After prompt token 1 the model answered 5, 2, 3, 5; only 5 is rewarded.
      const answers = [5, 2, 3, 5, 5, 2, 3, 6];
      const ts = answers.map((a, i) => traj(`t${i}`, i < 4 ? 'g0' : 'g1', [1], [a]));
      const rewards = answers.map((a) => (a === 5 ? 1 : 0));
      const p0 = softmax(W0[1] as number[]);
      const m = await rlStep({ policy, trajectories: ts, rewards, ...components() });
      const p1 = softmax((policy.W.arraySync() as number[][])[1] as number[]);
      expect(p1[5]).to.be.greaterThan((p0[5] as number) + 0.01);
      for (const bad of [2, 3, 6]) expect(p1[bad], `token ${bad}`).to.be.lessThan(p0[bad] as number);
      expect(m.grad_norm).to.be.greaterThan(0);
      expect(m.entropy).to.be.closeTo(-p0.reduce((a, q) => a + q * Math.log(q), 0), 1e-5);
      // entropyMetric false: no entropy asked for, none reported
      const quiet = await rlStep({ policy, trajectories: ts, rewards, ...components(), entropyMetric: false });
      expect(quiet).to.not.have.property('entropy');
      policy.dispose();
    });

    it('rejects bad input before touching the policy', async () => {
      const policy = new BigramPolicy(V, W0);
      const bad = async (over: object) => {
        let err: unknown;
        try {
          await rlStep({ policy, trajectories: TRAJS, rewards: REWARDS, ...components(), ...over });
        } catch (e) {
          err = e;
        }
        return (err as Error | undefined)?.message ?? '';
      };
      expect(await bad({ rewards: [1, 2] })).to.match(/2 rewards for 4 trajectories/);
      expect(await bad({ rewards: [1, NaN, 0, 0] })).to.match(/not a finite number/);
      expect(await bad({ kl: build('kl', 'k1') })).to.match(/needs a reference/);
      expect(await bad({ microBatchSize: 0 })).to.match(/microBatchSize must be a positive integer/);
      expect(await bad({ trajectories: [{ ...TRAJS[0], responseMask: [1] }, ...TRAJS.slice(1)] })).to.match(
        /responseMask has 1 entries/,
      );
      expect(policy.steps).to.equal(0);
      policy.dispose();
    });
  });
}

rlStepSuite('core rlStep with a real trainable bigram policy');
// The tfjs engine trains on wasm, where some gradients are missing: the same checks there.
rlStepSuite('core rlStep on the wasm backend', () => {
  let previous = '';
  before(async () => {
    previous = tf.getBackend();
    if (!(await tf.setBackend('wasm'))) throw new Error('setBackend(wasm) returned false');
  });
  after(async () => {
    await tf.setBackend(previous);
  });
  it('runs on wasm', () => {
    expect(tf.getBackend()).to.equal('wasm');
  });
});
