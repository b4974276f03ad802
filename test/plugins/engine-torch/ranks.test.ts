import { expect } from 'chai';
import path from 'node:path';
import type { Trajectory } from '../../../core/index.js';
import { rlStep } from '../../../core/train/index.js';
import { selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';
import { build } from '../algorithms/helpers.js';
import { FIXTURE, torchAvailable, torchPolicy } from './helpers.js';

/*
 * Data parallelism of the service: two ranks (gloo on CPU, started by the launcher with RANK /
 * WORLD_SIZE, as Debian's torch 1.13 cannot use torchrun) split every batch's rows, sum their
 * gradients and step identical optimizers; three ADPO steps on an odd number of uneven rows must
 * land where one rank lands. float64 weights, so only summation order can differ.
 */
const IDS = Array.from({ length: 120 }, (_, i) => (i * 37 + 11) % 384);

function traj(i: number, pLen: number, rLen: number): Trajectory {
  const start = i * 13;
  const responseIds = IDS.slice(start + pLen, start + pLen + rLen);
  return {
    id: `t${i}`,
    groupId: `g${i % 2}`,
    promptIds: IDS.slice(start, start + pLen),
    responseIds,
    responseMask: responseIds.map((_, j) => (j === 2 ? 0 : 1)),
    logProbs: responseIds.map(() => -4),
    text: '',
    stopReason: 'eos',
    turns: 1,
    toolCalls: 0,
    toolErrors: 0,
    fields: { selfConsistency: 0.3 + 0.1 * i },
    metrics: {},
  };
}
const TRAJS = [traj(0, 5, 11), traj(1, 3, 4), traj(2, 8, 17), traj(3, 2, 6), traj(4, 6, 9)];
const REWARDS = [1, 0, 0, 1, 1];

async function train(
  nproc: number,
  lossPath: 'custom' | 'fused',
): Promise<{ lp: Float32Array[]; m: Record<string, number>[] }> {
  const p = await torchPolicy({
    checkpoint: path.join(FIXTURE, 'untied'),
    optimizer: { lr: 5e-3 },
    lossPath,
    launch: { nproc, launcher: 'env', args: ['--threads', '1'] },
    model: { paramDtype: 'float64', microBatchTokens: 24 },
  });
  const ref = await p.snapshot();
  try {
    const m: Record<string, number>[] = [];
    for (let s = 0; s < 3; s++) {
      m.push(
        await rlStep({
          policy: p,
          reference: ref,
          trajectories: TRAJS,
          rewards: REWARDS,
          advantage: build('advantage', 'adpo'),
          loss: build('policy-loss', 'adpo'),
          aggregator: build('loss-agg', 'token-mean'),
          kl: build('kl', 'low_var_kl'),
          klCoef: 0.1,
          miniBatchSize: 3,
        }),
      );
    }
    const all = TRAJS.map((t) => [...t.promptIds, ...t.responseIds]);
    const T = Math.max(...all.map((r) => r.length));
    const lp = await p.computeLogProbs({
      inputIds: all.map((r) => [...r, ...new Array<number>(T - r.length).fill(0)]),
      attentionMask: all.map((r) => Array.from({ length: T }, (_, t) => (t < r.length ? 1 : 0))),
    });
    return { lp, m };
  } finally {
    await ref.dispose();
    await p.dispose();
  }
}

describe('policy/torch on 2 ranks (gloo, CPU)', function () {
  this.timeout(300_000);

  before(async function () {
    if (!torchAvailable()) this.skip();
    await selectBackend('wasm');
  });

  for (const lossPath of ['custom', 'fused'] as const) {
    it(`${lossPath}: 3 steps on 5 uneven rows equal one rank's (weights, metrics)`, async () => {
      const one = await train(1, lossPath);
      const two = await train(2, lossPath);
      let worst = 0;
      one.lp.forEach((r, i) =>
        r.forEach((x, j) => {
          worst = Math.max(worst, Math.abs(x - two.lp[i]![j]!));
        }),
      );
      expect(worst).to.be.lessThan(1e-6);
      for (let s = 0; s < 3; s++) {
        for (const k of ['loss', 'grad_norm', 'pg_loss', 'kl_loss', 'ratio_mean', 'entropy']) {
          expect(two.m[s]![k], `step ${s} ${k}`).to.be.closeTo(
            one.m[s]![k]!,
            1e-6 * Math.max(1, Math.abs(one.m[s]![k]!)),
          );
        }
      }
      expect(one.m[2]!.kl_loss, 'the policy moved away from its reference').to.be.greaterThan(0);
    });
  }
});
