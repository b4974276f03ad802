import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import type { Completion, TokenEvent } from '../../../core/index.js';
import { generateStreaming } from '../../../core/index.js';
import { testRolloutEngine } from '../../../core/testkit/index.js';
import { selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';
import { topLogProbs } from '../../../plugins/engine-tfjs/generate/sampler.js';
import { ParallelTfjsPolicy } from '../../../plugins/engine-tfjs/parallel/policy.js';
import type { TfjsPolicy } from '../../../plugins/engine-tfjs/policy.js';
import { CharTokenizer, logSoftmax, testPolicy } from './helpers.js';

/** Each row's events, in arrival order, as [tokenId, logProb] pairs. */
function byRow(events: TokenEvent[], rows: number): TokenEvent[][] {
  const out: TokenEvent[][] = Array.from({ length: rows }, () => []);
  for (const e of events) out[e.row]!.push(e);
  return out;
}

function expectEventsMatch(events: TokenEvent[], out: Completion[]): void {
  byRow(events, out.length).forEach((row, i) => {
    expect(
      row.map((e) => e.tokenId),
      `row ${i} ids`,
    ).to.deep.equal(out[i]!.tokenIds);
    expect(
      row.map((e) => e.logProb),
      `row ${i} log-probs`,
    ).to.deep.equal(out[i]!.logProbs);
  });
}

describe('engine-tfjs: top log-probs and streaming', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it('topLogProbs gives the k largest log-softmax entries, ties by lower id', () => {
    // log-sum-exp of [2, 0, 2, -1] = 2 + ln(2 + e^-2 + e^-3) = 2.7546...
    const lse = 2 + Math.log(2 + Math.exp(-2) + Math.exp(-3));
    const top = topLogProbs(Float32Array.from([2, 0, 2, -1]), 3);
    expect(top.map((t) => t.id)).to.deep.equal([0, 2, 1]);
    expect(top[0]!.logProb).to.be.closeTo(2 - lse, 1e-12);
    expect(top[1]!.logProb).to.be.closeTo(2 - lse, 1e-12);
    expect(top[2]!.logProb).to.be.closeTo(0 - lse, 1e-12);
    expect(topLogProbs(Float32Array.from([1, 3]), 5).map((t) => t.id)).to.deep.equal([1, 0]);
    expect(topLogProbs(Float32Array.from([1, 3]), 0)).to.deep.equal([]);
  });

  it("reports the top-k alternatives of the model's own next-token distribution", async () => {
    const p = await testPolicy(21, { batchSize: 2 });
    const prompts = [
      [5, 17, 3],
      [60, 61],
    ];
    const [out, plain] = [
      await p.generate(prompts, { maxNewTokens: 5, temperature: 1, seed: 3, topLogprobs: 4 }),
      await p.generate(prompts, { maxNewTokens: 5, temperature: 1, seed: 3 }),
    ];
    // Asking for alternatives does not change what is sampled.
    expect(out.map((c) => c.tokenIds)).to.deep.equal(plain.map((c) => c.tokenIds));
    expect(plain[0]).to.not.have.property('topLogProbs');
    out.forEach((c, i) => {
      const seq = [...prompts[i]!];
      expect(c.topLogProbs).to.have.length(c.tokenIds.length);
      c.tokenIds.forEach((tok, k) => {
        // Reference: the full forward pass, no KV cache, log-softmax written in the test.
        const logits = p.model.logits([seq]);
        const lsm = logSoftmax((logits.arraySync() as number[][][])[0]!.at(-1)!);
        logits.dispose();
        const want = lsm
          .map((lp, id) => ({ id, lp }))
          .sort((a, b) => b.lp - a.lp || a.id - b.id)
          .slice(0, 4);
        const got = c.topLogProbs![k]!;
        expect(
          got.map((t) => t.id),
          `row ${i} step ${k}`,
        ).to.deep.equal(want.map((w) => w.id));
        got.forEach((t, j) => expect(t.logProb).to.be.closeTo(want[j]!.lp, 1e-4));
        const mine = got.find((t) => t.id === tok);
        if (mine) expect(mine.logProb).to.equal(c.logProbs[k]);
        seq.push(tok);
      });
    });
    expect(p.maxTopLogprobs).to.equal(20);
    p.dispose();
  });

  it('generateStream reports every token while decoding, and returns what generate returns', async () => {
    const p = await testPolicy(8, { batchSize: 2 });
    const prompts = [[10, 11, 12], [40], [7, 8]];
    const params = { maxNewTokens: 9, temperature: 1, seed: 6, topLogprobs: 2 };
    const events: TokenEvent[] = [];
    const settled: boolean[] = [];
    let done = false;
    const out = await p.generateStream(prompts, params, (e) => {
      events.push(e);
      settled.push(done);
    });
    done = true;
    expect(settled.every((s) => !s)).to.equal(true);
    expect(out.map((c) => c.tokenIds)).to.deep.equal((await p.generate(prompts, params)).map((c) => c.tokenIds));
    expectEventsMatch(events, out);
    // Rows 0 and 1 decode together (batchSize 2): their tokens interleave step by step.
    expect(events.slice(0, 2).map((e) => e.row)).to.deep.equal([0, 1]);
    events.forEach((e) => expect(e.topLogProbs).to.have.length(2));
    p.dispose();
  });

  it('a listener that aborts after the first token ends decoding early (tokens come as decoded)', async () => {
    const p = await testPolicy(8, { batchSize: 4 });
    const prompts = [
      [10, 11],
      [20, 21],
    ];
    const full = await p.generate(prompts, { maxNewTokens: 40, temperature: 0, stopTokenIds: [] });
    const longest = Math.max(...full.map((c) => c.tokenIds.length));
    expect(longest, 'the greedy run goes on past a few tokens').to.be.above(10);
    const ac = new AbortController();
    const out = await p.generateStream(
      prompts,
      { maxNewTokens: 40, temperature: 0, stopTokenIds: [] },
      () => ac.abort(),
      { signal: ac.signal },
    );
    expect(out.some((c) => c.finishReason === 'abort')).to.equal(true);
    for (const c of out) expect(c.tokenIds.length).to.be.at.most(5);
    p.dispose();
  });

  it('generateStreaming falls back to generate for engines without a streaming path', async () => {
    const p = await testPolicy(8);
    const plain = { tokenizer: p.tokenizer, generate: p.generate.bind(p) };
    const events: TokenEvent[] = [];
    const out = await generateStreaming(plain, [[3, 4]], { maxNewTokens: 4, temperature: 1, seed: 2 }, (e) =>
      events.push(e),
    );
    expectEventsMatch(events, out);
    p.dispose();
  });

  describe('over worker threads', function () {
    this.timeout(120_000);
    let par: ParallelTfjsPolicy;
    let ser: TfjsPolicy;
    const OPTS = { batchSize: 4, seed: 9 };

    before(async () => {
      const factory = {
        module: new URL('./parallel-factory.ts', import.meta.url).href,
        export: 'testPolicyInWorker',
        args: { seed: 11, backend: tf.getBackend(), opts: OPTS },
      };
      par = await ParallelTfjsPolicy.create(2, new CharTokenizer(), factory, {
        microBatchSize: 3,
        maxMicroBatchTokens: 2048,
        seed: 9,
      });
      ser = await testPolicy(11, OPTS);
    });
    after(async () => {
      await par?.dispose();
      ser?.dispose();
    });

    it("streams every worker's rows under their batch-wide index, as the single-thread engine does", async () => {
      const prompts = [[10, 11, 12], [40], [7, 8], [30, 31], [50]];
      const params = { maxNewTokens: 8, temperature: 1, seed: 4, topLogprobs: 3 };
      const events: TokenEvent[] = [];
      const out = await par.generateStream(prompts, params, (e) => events.push(e));
      expectEventsMatch(events, out);
      const want = await ser.generate(prompts, params);
      expect(out.map((c) => c.tokenIds)).to.deep.equal(want.map((c) => c.tokenIds));
      out.forEach((c, i) =>
        c.topLogProbs!.forEach((t, k) =>
          expect(t.map((x) => x.id)).to.deep.equal(want[i]!.topLogProbs![k]!.map((x) => x.id)),
        ),
      );
    });

    it('a listener that aborts after the first token stops every worker early', async () => {
      const prompts = [
        [10, 11],
        [20, 21],
        [30, 31],
        [40, 41],
      ];
      const ac = new AbortController();
      const out = await par.generateStream(
        prompts,
        { maxNewTokens: 60, temperature: 0, stopTokenIds: [] },
        () => ac.abort(),
        { signal: ac.signal },
      );
      expect(out.filter((c) => c.finishReason === 'abort').length).to.be.at.least(2);
      for (const c of out) expect(c.tokenIds.length).to.be.at.most(12);
    });
  });
});

// The kit's suite, which third-party engines run too, on the optional paths.
let kitPolicy: Promise<TfjsPolicy> | undefined;
testRolloutEngine('policy/tfjs (alternatives, streaming)', () => (kitPolicy ??= testPolicy(3)), {
  prompt: 'hi there',
  stop: 'e',
});
after(async () => (await kitPolicy)?.dispose());
