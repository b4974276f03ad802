import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { TinyTokenizer, type Trajectory } from '../../../core/index.js';
import { rlStep } from '../../../core/train/index.js';
import { DEFAULT_POLICY_OPTIONS, TfjsPolicy } from '../../../plugins/engine-tfjs/policy.js';
import { Qwen3Model, resolveConfig, TINY_CONFIG } from '../../../plugins/engine-tfjs/public.js';
import { build } from './helpers.js';

// The executor's update as the pipeline runs it (ADPO advantage and loss, low_var_kl against a frozen
// reference, mini-batches, two epochs) on the real tfjs Qwen3 engine: gradient accumulation over
// micro-batches must not change the update.

const tok = new TinyTokenizer();
const cfg = resolveConfig({
  ...TINY_CONFIG,
  vocab_size: tok.vocabSize,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 16,
});

function traj(i: number, prompt: string, response: string, obs: [number, number] | null, s: number): Trajectory {
  const responseIds = tok.encode(response);
  const mask = responseIds.map((_, j) => (obs && j >= obs[0] && j < obs[1] ? 0 : 1));
  return {
    id: `t${i}`,
    groupId: `g${i >> 1}`,
    promptIds: tok.encode(prompt),
    responseIds,
    responseMask: mask,
    logProbs: responseIds.map(() => -1),
    text: response,
    stopReason: 'eos',
    turns: 1,
    toolCalls: obs ? 1 : 0,
    toolErrors: 0,
    fields: { selfConsistency: s },
    metrics: {},
  };
}

const TRAJS = [
  traj(0, 'Q: 2+3', ' 5 [out] 5 done', [3, 9], 0.4),
  traj(1, 'Q: 2+3', ' 6', null, 0.4),
  traj(2, 'Q: 7*6', ' 42 ok', null, 0.9),
  traj(3, 'Q: 7*6', ' 41 [out] x', [4, 9], 0.9),
  traj(4, 'Q: 1', ' 1', null, 0.6),
];
const REWARDS = [1, 0, 1, 0, 1];

async function update(microBatchSize?: number) {
  const policy = new TfjsPolicy(Qwen3Model.random(cfg, 3), tok, {
    ...DEFAULT_POLICY_OPTIONS,
    microBatchSize: 64,
    optimizer: { ...DEFAULT_POLICY_OPTIONS.optimizer, lr: 3e-2 },
  });
  const reference = await policy.snapshot();
  const m = await rlStep({
    policy,
    reference,
    trajectories: TRAJS,
    rewards: REWARDS,
    advantage: build('advantage', 'adpo'),
    loss: build('policy-loss', 'adpo'),
    aggregator: build('loss-agg', 'token-mean'),
    kl: build('kl', 'low_var_kl'),
    klCoef: 0.01,
    miniBatchSize: 3,
    ppoEpochs: 2,
    ...(microBatchSize ? { microBatchSize } : {}),
  });
  const weights = [...policy.model.params.values()].map((v) => Array.from(v.dataSync()));
  await reference.dispose();
  policy.dispose();
  return { m, weights };
}

describe('rlStep on the tfjs Qwen3 engine (ADPO + KL, the executor update)', function () {
  this.timeout(120_000);

  it('micro-batch size 1 gives the same update and metrics as whole mini-batches', async () => {
    const before = tf.memory().numTensors;
    const full = await update();
    const micro = await update(1);
    expect(tf.memory().numTensors, 'tensors leaked').to.equal(before);
    expect(full.m.optimizer_steps).to.equal(4);
    for (const k of [
      'loss',
      'pg_loss',
      'kl_loss',
      'grad_norm',
      'ratio_mean',
      'ratio_max',
      'ppo_kl',
      'entropy',
      'clip_high_mean',
    ]) {
      expect(micro.m[k], k).to.be.closeTo(full.m[k] as number, 2e-5 * Math.max(1, Math.abs(full.m[k] as number)));
    }
    // the second epoch is off-policy: the ratio moved and the KL to the reference is no longer 0
    expect(full.m.ratio_max).to.be.greaterThan(1.001);
    expect(full.m.kl_loss).to.be.greaterThan(0);
    // the averages over the 4 steps keep loss = pg_loss + 0.01 · kl_loss (no entropy bonus)
    expect(full.m.loss).to.be.closeTo((full.m.pg_loss as number) + 0.01 * (full.m.kl_loss as number), 1e-6);
    let worst = 0;
    full.weights.forEach((w, i) =>
      w.forEach((x, j) => {
        worst = Math.max(worst, Math.abs(x - (micro.weights[i]?.[j] as number)));
      }),
    );
    expect(worst, 'largest weight difference').to.be.lessThan(1e-5);
  });
});
