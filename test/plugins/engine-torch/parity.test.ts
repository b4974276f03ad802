import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadTokenizer, type Policy, type Trajectory } from '../../../core/index.js';
import { rlStep } from '../../../core/train/index.js';
import { selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';
import { Qwen3Model } from '../../../plugins/engine-tfjs/model/qwen3.js';
import { DEFAULT_POLICY_OPTIONS, TfjsPolicy } from '../../../plugins/engine-tfjs/policy.js';
import { build } from '../algorithms/helpers.js';
import { FIXTURE, torchAvailable, torchPolicy } from './helpers.js';

/*
 * policy/torch against policy/tfjs on the same transformers checkpoint (test/fixtures/qwen3-tiny):
 * the service's built-in Qwen3 (torch 1.13 on CI, no transformers) must give the engine's
 * log-probs, and one rlStep of each algorithm family must move both to the same weights (same
 * AdamW semantics), on the custom path (loss closure here) and on the fused one (loss there).
 */
const ref = JSON.parse(readFileSync(path.join(FIXTURE, 'reference.json'), 'utf8')) as {
  logits: { ids: number[][] };
  greedy: { variant: string; prompt_ids: number[]; tokens: number[]; logprobs: number[] }[];
};
const IDS = ref.logits.ids[2] as number[];
const OPT = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, warmupSteps: 0, maxGradNorm: 1 };

function traj(i: number, p0: number, pLen: number, rLen: number, obs: [number, number] | null, s: number): Trajectory {
  const responseIds = IDS.slice(p0 + pLen, p0 + pLen + rLen);
  return {
    id: `t${i}`,
    groupId: `g${i >> 1}`,
    promptIds: IDS.slice(p0, p0 + pLen),
    responseIds,
    responseMask: responseIds.map((_, j) => (obs && j >= obs[0] && j < obs[1] ? 0 : 1)),
    logProbs: responseIds.map(() => -3),
    text: '',
    stopReason: 'eos',
    turns: 1,
    toolCalls: obs ? 1 : 0,
    toolErrors: 0,
    fields: { selfConsistency: s },
    metrics: {},
  };
}

// uneven lengths, observation spans, a prompt-only-like short row, and a row whose response is all
// observation (no trained token: left out of the seq-mean denominators, as verl does)
const TRAJS = [
  traj(0, 0, 6, 12, [3, 6], 0.4),
  traj(1, 10, 5, 4, null, 0.4),
  traj(2, 20, 9, 15, null, 0.9),
  traj(3, 40, 4, 9, [2, 5], 0.9),
  traj(4, 60, 3, 2, null, 0.6),
  traj(5, 70, 4, 3, [0, 3], 0.6),
];
const REWARDS = [1, 0, 1, 0, 1, 0];

const ALGOS = [
  { name: 'GRPO + PPO clip', advantage: 'grpo', loss: ['vanilla', {}], agg: 'token-mean', kl: null },
  { name: 'ADPO + k3 KL', advantage: 'adpo', loss: ['adpo', {}], agg: 'token-mean', kl: 'low_var_kl' },
  { name: 'DAPO clip-higher', advantage: 'grpo', loss: ['dapo', {}], agg: 'token-mean', kl: null },
  {
    name: 'GSPO',
    advantage: 'grpo',
    loss: ['gspo', { clip_ratio_low: 0.02, clip_ratio_high: 0.03 }],
    agg: 'seq-mean-token-mean',
    kl: null,
  },
  {
    name: 'Dr. GRPO, seq-mean-token-sum-norm',
    advantage: 'drgrpo',
    loss: ['vanilla', {}],
    agg: 'seq-mean-token-sum-norm',
    kl: null,
  },
] as const;

async function step(policy: Policy, algo: (typeof ALGOS)[number]): Promise<Record<string, number>> {
  const reference = algo.kl ? await policy.snapshot() : undefined;
  try {
    return await rlStep({
      policy,
      trajectories: TRAJS,
      rewards: REWARDS,
      advantage: build('advantage', algo.advantage),
      loss: build('policy-loss', algo.loss[0], algo.loss[1]),
      aggregator: build('loss-agg', algo.agg),
      ...(algo.kl ? { reference, kl: build('kl', algo.kl), klCoef: 0.05 } : {}),
      miniBatchSize: 3,
      ppoEpochs: 2,
      microBatchSize: 2,
    });
  } finally {
    await reference?.dispose();
  }
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((r, i) =>
    r.forEach((x, j) => {
      m = Math.max(m, Math.abs(x - (b[i] as Float32Array)[j]!));
    }),
  );
  return m;
}

describe('policy/torch parity with policy/tfjs (qwen3-tiny fixture)', function () {
  this.timeout(300_000);
  const batch = {
    inputIds: [IDS.slice(0, 30), [...IDS.slice(30, 42), ...new Array<number>(18).fill(0)]],
    attentionMask: [
      new Array<number>(30).fill(1),
      [...new Array<number>(12).fill(1), ...new Array<number>(18).fill(0)],
    ],
  };

  before(async function () {
    if (!torchAvailable()) this.skip();
    await selectBackend('wasm');
  });

  it("log-probs equal the tfjs engine's to 1e-5 and greedy decoding follows transformers", async () => {
    const t = await torchPolicy({ checkpoint: path.join(FIXTURE, 'untied') });
    const f = new TfjsPolicy(await Qwen3Model.fromPretrained(path.join(FIXTURE, 'untied')), t.tokenizer, {
      ...DEFAULT_POLICY_OPTIONS,
    });
    try {
      const [a, b] = [await t.computeLogProbs(batch), await f.computeLogProbs(batch)];
      expect(maxDiff(a, b)).to.be.lessThan(1e-5);
      expect(
        a[1]!.slice(12).every((x) => x === 0),
        'padding columns are 0',
      ).to.equal(true);
      const g = ref.greedy.find((x) => x.variant === 'untied')!;
      const [c] = await t.generate([g.prompt_ids], { maxNewTokens: g.tokens.length, temperature: 0 });
      expect(c!.tokenIds).to.deep.equal(g.tokens);
      c!.logProbs.forEach((lp, i) => expect(lp).to.be.closeTo(g.logprobs[i]!, 1e-4));
    } finally {
      await t.dispose();
      f.dispose();
    }
  });

  it('reports the same top log-prob alternatives as the tfjs engine', async () => {
    const t = await torchPolicy({ checkpoint: path.join(FIXTURE, 'untied') });
    const f = new TfjsPolicy(await Qwen3Model.fromPretrained(path.join(FIXTURE, 'untied')), t.tokenizer, {
      ...DEFAULT_POLICY_OPTIONS,
    });
    try {
      const prompts = [IDS.slice(0, 7), IDS.slice(20, 24)];
      const params = { maxNewTokens: 5, temperature: 0, topLogprobs: 4 };
      const [a, b] = [await t.generate(prompts, params), await f.generate(prompts, params)];
      expect(t.maxTopLogprobs).to.equal(20);
      a.forEach((c, i) => {
        expect(c.tokenIds).to.deep.equal(b[i]!.tokenIds);
        expect(c.topLogProbs).to.have.length(c.tokenIds.length);
        c.topLogProbs!.forEach((top, s) => {
          expect(
            top.map((x) => x.id),
            `row ${i} step ${s}`,
          ).to.deep.equal(b[i]!.topLogProbs![s]!.map((x) => x.id));
          top.forEach((x, j) => expect(x.logProb).to.be.closeTo(b[i]!.topLogProbs![s]![j]!.logProb, 1e-4));
        });
      });
      // Without the option no alternatives are computed or sent.
      expect((await t.generate(prompts, { maxNewTokens: 2, temperature: 0 }))[0]).to.not.have.property('topLogProbs');
    } finally {
      await t.dispose();
      f.dispose();
    }
  });

  for (const algo of ALGOS) {
    it(`${algo.name}: one rlStep (2 epochs x 2 mini-batches) moves both engines alike, custom and fused`, async () => {
      const dir = path.join(FIXTURE, 'untied');
      const tfjs = new TfjsPolicy(await Qwen3Model.fromPretrained(dir), await loadTokenizer(dir), {
        ...DEFAULT_POLICY_OPTIONS,
        optimizer: OPT,
      });
      const before = await tfjs.computeLogProbs(batch);
      const custom = await torchPolicy({
        checkpoint: path.join(FIXTURE, 'untied'),
        optimizer: OPT,
        lossPath: 'custom',
      });
      const fused = await torchPolicy({ checkpoint: path.join(FIXTURE, 'untied'), optimizer: OPT, lossPath: 'fused' });
      try {
        const mt = await step(tfjs, algo);
        const mc = await step(custom, algo);
        const mf = await step(fused, algo);
        expect(mt.optimizer_steps).to.equal(4);
        const lt = await tfjs.computeLogProbs(batch);
        expect(maxDiff(lt, before), 'the step moved the weights').to.be.greaterThan(1e-3);
        expect(maxDiff(await custom.computeLogProbs(batch), lt), 'custom vs tfjs').to.be.lessThan(1e-4);
        expect(maxDiff(await fused.computeLogProbs(batch), lt), 'fused vs tfjs').to.be.lessThan(1e-4);
        for (const k of [
          'loss',
          'pg_loss',
          'grad_norm',
          'ratio_mean',
          'ratio_max',
          'ppo_kl',
          'pg_clipfrac_high',
          'pg_clipfrac_low',
          'entropy',
          ...(algo.kl ? ['kl_loss'] : []),
          ...(algo.loss[0] === 'adpo' ? ['clip_high_mean'] : []),
        ]) {
          expect(mc[k], `custom ${k}`).to.be.closeTo(mt[k] as number, 2e-4 * Math.max(1, Math.abs(mt[k] as number)));
          expect(mf[k], `fused ${k}`).to.be.closeTo(mt[k] as number, 2e-4 * Math.max(1, Math.abs(mt[k] as number)));
        }
        expect(Object.keys(mf).sort(), 'the fused path reports the same metrics').to.deep.equal(Object.keys(mt).sort());
      } finally {
        tfjs.dispose();
        await custom.dispose();
        await fused.dispose();
      }
    });
  }
});
