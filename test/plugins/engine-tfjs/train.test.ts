import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LossOutput, PolicyForward, TokenBatch } from '../../../core/index.js';
import { selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';
import { AdamW, lrAt } from '../../../plugins/engine-tfjs/train/adamw.js';
import { testPolicy } from './helpers.js';

/** −(mean over rows of the row's summed log-probs): a per-row mean, as micro-batching assumes. */
function nll(fwd: PolicyForward): LossOutput {
  const perRow = tf.sum(fwd.logProbs, 1);
  return {
    loss: tf.neg(tf.mean(perRow)) as tf.Scalar,
    metrics: { rows: fwd.rows.length, meanLp: tf.mean(perRow) as tf.Scalar },
  };
}

const BATCH: TokenBatch = {
  inputIds: [
    [5, 6, 7, 8, 9, 10],
    [11, 12, 13, 0, 0, 0],
    [20, 21, 22, 23, 24, 0],
    [30, 31, 0, 0, 0, 0],
    [40, 41, 42, 43, 44, 45],
  ],
  attentionMask: [
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0, 0],
    [1, 1, 1, 1, 1, 0],
    [1, 1, 0, 0, 0, 0],
    [1, 1, 1, 1, 1, 1],
  ],
};

const weightsOf = (p: { model: { readWeights(): Map<string, Float32Array> } }): Map<string, Float32Array> =>
  p.model.readWeights();

function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let d = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
  }
  return d;
}

describe('engine-tfjs: training', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it('AdamW matches a hand computation (bias correction, decoupled decay on matrices only, clipping, warmup)', () => {
    const cfg = { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.5, warmupSteps: 4, maxGradNorm: 1 };
    expect([1, 2, 4, 9].map((s) => lrAt(cfg, s))).to.deep.equal([0.025, 0.05, 0.1, 0.1]);
    const opt = new AdamW(cfg);
    const w = tf.variable(tf.tensor2d([[1, -2]]));
    const b = tf.variable(tf.tensor1d([3]));
    const params = new Map<string, tf.Variable>([
      ['w', w],
      ['b', b],
    ]);
    // Global norm 5 > 1: clipped by 1/5, so g = [0.6, -0.8] and [0].
    const grads = new Map<string, tf.Tensor>([
      ['w', tf.tensor2d([[3, -4]])],
      ['b', tf.tensor1d([0])],
    ]);
    const r1 = opt.apply(params, grads);
    expect(r1.gradNorm).to.be.closeTo(5, 1e-6);
    expect(r1.lr).to.equal(0.025);
    // Step 1: m̂ = g, v̂ = g², update = g/|g| = ±1; decay (1 − lr·wd) on the matrix only.
    const expW1 = [1 * (1 - 0.025 * 0.5) - 0.025, -2 * (1 - 0.025 * 0.5) + 0.025];
    Array.from(w.dataSync()).forEach((x, i) => expect(x).to.be.closeTo(expW1[i]!, 1e-6));
    expect(b.dataSync()[0]).to.be.closeTo(3, 1e-7);
    // Step 2 with g' = [0.3, 0.4] (norm 0.5, unclipped), by hand.
    grads.get('w')!.dispose();
    grads.set('w', tf.tensor2d([[0.3, 0.4]]));
    opt.apply(params, grads);
    const g1 = [0.6, -0.8],
      g2 = [0.3, 0.4],
      lr2 = 0.05;
    const expW2 = expW1.map((x, i) => {
      const m = 0.9 * 0.1 * g1[i]! + 0.1 * g2[i]!;
      const v = 0.99 * 0.01 * g1[i]! ** 2 + 0.01 * g2[i]! ** 2;
      const upd = m / (1 - 0.9 ** 2) / (Math.sqrt(v / (1 - 0.99 ** 2)) + 1e-8);
      return x * (1 - lr2 * 0.5) - lr2 * upd;
    });
    Array.from(w.dataSync()).forEach((x, i) => expect(x).to.be.closeTo(expW2[i]!, 1e-6));
    grads.forEach((g) => g.dispose());
    opt.dispose();
    w.dispose();
    b.dispose();
  });

  it('micro-batches accumulate to the same step as one full batch', async () => {
    const full = await testPolicy(31);
    const micro = await testPolicy(31);
    const s1 = await full.trainStep(BATCH, nll, { microBatchSize: 5 });
    const s2 = await micro.trainStep(BATCH, nll, { microBatchSize: 2 });
    expect(s2.loss).to.be.closeTo(s1.loss, 1e-4);
    expect(s2.gradNorm).to.be.closeTo(s1.gradNorm, 1e-3 * s1.gradNorm);
    expect(s1.tokens).to.equal(6 + 3 + 5 + 2 + 6);
    expect(s2.metrics.rows).to.be.closeTo((2 * 2 + 2 * 2 + 1 * 1) / 5, 1e-9);
    expect(s2.metrics.meanLp).to.be.closeTo(-s1.loss, 1e-4);
    // The step moved the weights, and moved them the same way.
    const before = weightsOf(await testPolicy(31));
    expect(maxDiff(weightsOf(full), before)).to.be.greaterThan(1e-4);
    expect(maxDiff(weightsOf(full), weightsOf(micro))).to.be.lessThan(2e-6);
    // A token budget (rows × T) cuts micro-batches further: 12 tokens of T = 6 → 2 rows each.
    const capped = await testPolicy(31, { maxMicroBatchTokens: 12 });
    const s3 = await capped.trainStep(BATCH, nll, { microBatchSize: 5 });
    expect(s3.metrics.rows).to.be.closeTo(s2.metrics.rows!, 1e-9);
    expect(maxDiff(weightsOf(capped), weightsOf(micro))).to.equal(0);
    full.dispose();
    micro.dispose();
    capped.dispose();
  });

  it('a per-call lr overrides the configured one', async () => {
    const a = await testPolicy(2, {
      optimizer: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, warmupSteps: 0, maxGradNorm: 0 },
    });
    const s = await a.trainStep(BATCH, nll, { lr: 0.5 });
    expect(s.lr).to.equal(0.5);
    expect((await a.trainStep(BATCH, nll)).lr).to.equal(1e-3);
    a.dispose();
  });

  it('save → load restores weights and optimizer state: the next step is identical', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tfjs-ckpt-'));
    try {
      const a = await testPolicy(7);
      await a.trainStep(BATCH, nll);
      await a.trainStep(BATCH, nll);
      await a.save(dir);
      const b = await testPolicy(99); // different weights until load
      expect(maxDiff(weightsOf(a), weightsOf(b))).to.be.greaterThan(1e-2);
      await b.load(dir);
      expect(maxDiff(weightsOf(a), weightsOf(b))).to.equal(0);
      expect(b.opt.step).to.equal(2);
      const sa = await a.trainStep(BATCH, nll);
      const sb = await b.trainStep(BATCH, nll);
      expect(sb.step).to.equal(3);
      expect(sb.loss).to.equal(sa.loss);
      expect(maxDiff(weightsOf(a), weightsOf(b))).to.equal(0);
      a.dispose();
      b.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('snapshot() is a frozen copy: training the original leaves it unchanged', async () => {
    const a = await testPolicy(4);
    const snap = await a.snapshot();
    const lp0 = await snap.computeLogProbs(BATCH);
    await a.trainStep(BATCH, nll, { lr: 0.05 });
    expect(await snap.computeLogProbs(BATCH)).to.deep.equal(lp0);
    expect((await a.computeLogProbs(BATCH))[0]).to.not.deep.equal(lp0[0]);
    let threw = false;
    await snap.trainStep(BATCH, nll).catch(() => {
      threw = true;
    });
    expect(threw).to.equal(true);
    await snap.dispose();
    a.dispose();
  });

  it('keeps tf.memory().numTensors flat over many train, log-prob and sampling steps', async () => {
    const p = await testPolicy(12, { microBatchSize: 2, batchSize: 2 });
    const round = async (i: number): Promise<void> => {
      await p.trainStep(BATCH, nll, { needEntropy: i % 2 === 0 });
      await p.computeLogProbs(BATCH, { microBatchSize: 3 });
      await p.generate([[3, 4, 5], [6], [7, 8]], { maxNewTokens: 5, temperature: 1, seed: i, stop: ['q'] });
    };
    await round(0);
    const before = tf.memory().numTensors;
    for (let i = 1; i <= 6; i++) await round(i);
    expect(tf.memory().numTensors).to.equal(before);
    p.dispose();
  });
});
