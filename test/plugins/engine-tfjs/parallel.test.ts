import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LossOutput, Policy, PolicyForward, TokenBatch } from '../../../core/index.js';
import { ParallelTfjsPolicy, splitEven } from '../../../plugins/engine-tfjs/parallel/policy.js';
import type { TfjsPolicy, TfjsPolicyOptions } from '../../../plugins/engine-tfjs/policy.js';
import { CharTokenizer, testPolicy } from './helpers.js';

const SEED = 11;
const OPTS: Partial<TfjsPolicyOptions> = {
  microBatchSize: 3,
  batchSize: 4,
  seed: 9,
  optimizer: { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, warmupSteps: 0, maxGradNorm: 0.5 },
};

async function parallel(workers = 2): Promise<ParallelTfjsPolicy> {
  const factory = {
    module: new URL('./parallel-factory.ts', import.meta.url).href,
    export: 'testPolicyInWorker',
    args: { seed: SEED, backend: tf.getBackend(), opts: OPTS },
  };
  return ParallelTfjsPolicy.create(workers, new CharTokenizer(), factory, {
    microBatchSize: 3,
    maxMicroBatchTokens: 2048,
    seed: 9,
  });
}

const tok = new CharTokenizer();
const texts = ['12+7=19', 'abc', 'the quick brown fox', '3*3', 'zz top 99'];
function batchOf(rows: string[]): TokenBatch {
  const ids = rows.map((t) => tok.encode(t));
  const T = Math.max(...ids.map((r) => r.length));
  return {
    inputIds: ids.map((r) => [...r, ...Array(T - r.length).fill(0)]),
    attentionMask: ids.map((r) => r.map(() => 1).concat(Array(T - r.length).fill(0))),
  };
}

/**
 * A loss that is not linear in the log-probs and reads per-row data through `rows`, like a
 * clipped policy-gradient loss with an entropy bonus: the parallel engine must call it on whole
 * micro-batches and back-propagate its exact gradient.
 */
function ppoLike(batch: TokenBatch, old: Float32Array[]): (f: PolicyForward) => LossOutput {
  const adv = batch.inputIds.map((_, i) => (i % 2 ? 1 : -0.5) * (1 + i / 10));
  const mask = batch.attentionMask.map((m) => m.map((x, t) => (t > 0 ? x : 0)));
  return (f) => {
    const m = tf.tensor2d(f.rows.map((r) => mask[r] as number[]));
    const a = tf.tensor2d(f.rows.map((r) => [adv[r] as number]));
    const ratio = tf.exp(
      tf.sub(f.logProbs, tf.tensor2d(f.rows.map((r) => Array.from(old[r] as Float32Array, (x) => x - 0.05)))),
    );
    const pg = tf.minimum(tf.mul(ratio, a), tf.mul(tf.clipByValue(ratio, 0.9, 1.1), a));
    const n = tf.sum(m);
    const loss = tf.sub(
      tf.neg(tf.div(tf.sum(tf.mul(pg, m)), n)),
      tf.mul(0.01, tf.div(tf.sum(tf.mul(f.entropy!, m)), n)),
    ) as tf.Scalar;
    return { loss, metrics: { ratio_mean: tf.div(tf.sum(tf.mul(ratio, m)), n) as tf.Scalar, rows: f.rows.length } };
  };
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  expect(a.length).to.equal(b.length);
  for (let i = 0; i < a.length; i++)
    expect(Math.abs((a[i] as number) - (b[i] as number)), `index ${i}: ${a[i]} vs ${b[i]}`).to.be.at.most(tol);
}

describe('engine-tfjs: data-parallel policy (worker threads)', function () {
  this.timeout(120_000);
  let par: ParallelTfjsPolicy;
  let ser: TfjsPolicy;
  const others: Policy[] = [];

  before(async () => {
    par = await parallel(2);
    ser = await testPolicy(SEED, OPTS);
  });
  after(async () => {
    for (const p of others) await p.dispose();
    await par?.dispose();
    ser?.dispose();
  });

  it('splits rows into even contiguous runs', () => {
    expect(splitEven(5, 2)).to.deep.equal([
      [0, 3],
      [3, 5],
    ]);
    expect(splitEven(1, 3)).to.deep.equal([
      [0, 1],
      [1, 1],
      [1, 1],
    ]);
  });

  it('log-probs equal the single-thread engine', async () => {
    const b = batchOf(texts);
    const [x, y] = [await par.computeLogProbs(b, { microBatchSize: 2 }), await ser.computeLogProbs(b)];
    expect(x).to.have.length(5);
    x.forEach((row, i) => close(row, y[i] as Float32Array, 1e-5));
  });

  it('sampling equals the single-thread engine row for row (seeded, unseeded, keyed)', async () => {
    const prompts = texts.map((t) => tok.encode(t.slice(0, 3)));
    for (const params of [
      { maxNewTokens: 12, temperature: 1, seed: 4 },
      { maxNewTokens: 12, temperature: 0.8, topK: 20 },
    ]) {
      const a = await par.generate(prompts, params);
      const b = await ser.generate(prompts, params);
      expect(a.map((c) => c.tokenIds)).to.deep.equal(b.map((c) => c.tokenIds));
      a.forEach((c, i) => close(c.logProbs, b[i]!.logProbs, 1e-4));
    }
    const keys = prompts.map((_, i) => `traj${i}/turn0`);
    const a = await par.generate(prompts, { maxNewTokens: 8, temperature: 1 }, { sampleKeys: keys });
    const b = await ser.generate(prompts, { maxNewTokens: 8, temperature: 1 }, { sampleKeys: keys });
    expect(a.map((c) => c.text)).to.deep.equal(b.map((c) => c.text));
  });

  it('an abort signal stops generation in every worker', async () => {
    const ac = new AbortController();
    const prompts = texts.map((t) => tok.encode(t.slice(0, 2)));
    const pending = par.generate(prompts, { maxNewTokens: 100, temperature: 1 }, { signal: ac.signal });
    // Each worker has its generate request by now and sees the abort within a few of its event-loop turns.
    ac.abort();
    const out = await pending;
    expect(out).to.have.length(5);
    expect(out.filter((c) => c.finishReason === 'abort').length).to.be.greaterThan(2);
    for (const c of out) expect(c.tokenIds.length).to.be.at.most(16);
  });

  it('a train step (micro-batches cut across workers, entropy, nonlinear loss) matches the single-thread step', async () => {
    const b = batchOf(texts);
    const old = await ser.computeLogProbs(b);
    for (let step = 0; step < 3; step++) {
      const sp = await par.trainStep(b, ppoLike(b, old), { needEntropy: true });
      const ss = await ser.trainStep(b, ppoLike(b, old), { needEntropy: true });
      expect(sp.step).to.equal(ss.step);
      expect(sp.tokens).to.equal(ss.tokens);
      expect(sp.loss).to.be.closeTo(ss.loss, 1e-5);
      expect(sp.gradNorm).to.be.closeTo(ss.gradNorm, 1e-4 * ss.gradNorm);
      expect(sp.metrics.ratio_mean).to.be.closeTo(ss.metrics.ratio_mean as number, 1e-6);
      // 'rows' is a plain number per micro-batch, weighted by its share: 3·3/5 + 2·2/5.
      expect(sp.metrics.rows).to.be.closeTo(13 / 5, 1e-9);
      expect(ss.metrics.rows).to.be.closeTo(13 / 5, 1e-9);
    }
    const [x, y] = [await par.computeLogProbs(b), await ser.computeLogProbs(b)];
    x.forEach((row, i) => close(row, y[i] as Float32Array, 2e-4));
  });

  it('a loss that throws fails the step cleanly, and the next step still works', async () => {
    const b = batchOf(texts);
    let calls = 0;
    const bad = (f: PolicyForward): LossOutput => {
      if (++calls === 2) throw new Error('loss exploded');
      return { loss: tf.neg(tf.mean(f.logProbs)) as tf.Scalar };
    };
    const before = await par.computeLogProbs(b);
    let err: Error | undefined;
    await par.trainStep(b, bad).catch((e: Error) => {
      err = e;
    });
    expect(err?.message).to.equal('loss exploded');
    close((await par.computeLogProbs(b))[0] as Float32Array, before[0] as Float32Array, 0);
    const ok = await par.trainStep(b, (f) => ({ loss: tf.neg(tf.mean(f.logProbs)) as tf.Scalar }));
    expect(ok.gradNorm).to.be.above(0);
  });

  it('two policies sharing the workers can train at the same time (their steps take turns)', async () => {
    const [p1, p2] = [await parallel(2), await parallel(2)];
    others.push(p1, p2);
    const b = batchOf(texts);
    const loss = (f: PolicyForward): LossOutput => ({ loss: tf.neg(tf.mean(f.logProbs)) as tf.Scalar });
    const [s1, s2] = await Promise.all([p1.trainStep(b, loss), p2.trainStep(b, loss)]);
    expect(s1.loss).to.equal(s2.loss);
    expect(s1.gradNorm).to.equal(s2.gradNorm);
    const [a, c] = [await p1.computeLogProbs(b), await p2.computeLogProbs(b)];
    expect(Array.from(a[2] as Float32Array)).to.deep.equal(Array.from(c[2] as Float32Array));
  });

  it('snapshots are frozen copies; save/load round-trips through a folder', async () => {
    const b = batchOf(texts);
    const snap = await par.snapshot();
    others.push(snap);
    const frozen = await snap.computeLogProbs(b);
    const refused = await snap
      .trainStep(b, (f) => ({ loss: tf.neg(tf.mean(f.logProbs)) as tf.Scalar }))
      .then(
        () => 'trained',
        (e: Error) => e.message,
      );
    expect(refused).to.match(/frozen/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agent0-par-'));
    try {
      await par.save(dir);
      await par.trainStep(b, (f) => ({ loss: tf.neg(tf.mean(f.logProbs)) as tf.Scalar }));
      expect((await par.computeLogProbs(b))[0]).to.not.deep.equal((await snap.computeLogProbs(b))[0]);
      close((await snap.computeLogProbs(b))[0] as Float32Array, frozen[0] as Float32Array, 0);
      const saved = await snap.computeLogProbs(b);
      await par.load(dir);
      expect(saved).to.have.length(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds no more tensors in its workers after many steps', async () => {
    const b = batchOf(texts);
    const loss = (f: PolicyForward): LossOutput => ({ loss: tf.neg(tf.mean(f.logProbs)) as tf.Scalar });
    await par.trainStep(b, loss, { needEntropy: true });
    await par.generate([[3, 4]], { maxNewTokens: 4 });
    const start = await par.workerTensors();
    const mainStart = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) {
      await par.trainStep(b, loss, { needEntropy: true });
      await par.computeLogProbs(b);
      await par.generate([[3, 4], [5]], { maxNewTokens: 4, temperature: 1 });
    }
    expect(await par.workerTensors()).to.deep.equal(start);
    expect(tf.memory().numTensors).to.equal(mainStart);
  });
});
