import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { Rng, type PolicyForward, type TokenBatch } from '../../../core/index.js';
import { selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';
import { testPolicy, TEST_CONFIG } from './helpers.js';

describe('engine-tfjs: learning', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it('a tiny model learns to reverse 4-digit strings (answer loss falls clearly, greedy answers come right)', async function () {
    this.timeout(120_000);
    const cfg = { ...TEST_CONFIG, hidden_size: 64, intermediate_size: 128, head_dim: 16 };
    const p = await testPolicy(
      1,
      { optimizer: { lr: 3e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0, warmupSteps: 5, maxGradNorm: 1 } },
      cfg,
    );
    const tok = p.tokenizer;
    const rng = new Rng(5, 'reverse');
    const example = (): string => {
      const d = Array.from({ length: 4 }, () => String(rng.int(0, 9))).join('');
      return `${d}>${[...d].reverse().join('')}`;
    };
    // Answer tokens are positions 5..8 of "dddd>rrrr".
    const answerMask = tf.keep(tf.tensor2d([0, 0, 0, 0, 0, 1, 1, 1, 1], [1, 9]));
    const loss = (f: PolicyForward) => ({
      loss: tf.neg(tf.div(tf.sum(tf.mul(f.logProbs, answerMask)), 4 * f.rows.length)) as tf.Scalar,
    });
    const batchOf = (texts: string[]): TokenBatch => ({
      inputIds: texts.map((t) => tok.encode(t)),
      attentionMask: texts.map(() => new Array<number>(9).fill(1)),
    });
    const held = batchOf(Array.from({ length: 32 }, example));
    const heldLoss = async (): Promise<number> => {
      const lp = await p.computeLogProbs(held);
      return -lp.reduce((a, r) => a + r[5]! + r[6]! + r[7]! + r[8]!, 0) / (4 * lp.length);
    };
    const before = await heldLoss();
    for (let step = 0; step < 100; step++) await p.trainStep(batchOf(Array.from({ length: 32 }, example)), loss);
    const after = await heldLoss();
    expect(before).to.be.greaterThan(3); // ≈ ln 98 at random init
    expect(after).to.be.lessThan(0.25 * before);
    const prompts = held.inputIds.slice(0, 16).map((r) => r.slice(0, 5));
    const outs = await p.generate(prompts, { maxNewTokens: 4, temperature: 0, stopTokenIds: [] });
    const right = outs.filter((o, i) => o.text === tok.decode(held.inputIds[i]!.slice(5))).length;
    expect(right).to.be.at.least(10);
    answerMask.dispose();
    p.dispose();
  });
});
