import assert from 'node:assert/strict';
import type { RolloutEngine } from '../contracts/policy.js';
import type { TaskSource } from '../contracts/tasks.js';
import { suite } from './mocha.js';

/** Conformance suite for a RolloutEngine: one completion per prompt, budgets, stop strings, log-probs. */
export function testRolloutEngine(
  name: string,
  make: () => RolloutEngine | Promise<RolloutEngine>,
  opts: { prompt: string; stop?: string },
): void {
  suite(`rollout conformance: ${name}`, (it) => {
    it('returns one completion per prompt with a log-prob per token and respects maxNewTokens', async () => {
      const e = await make();
      const ids = e.tokenizer.encode(opts.prompt);
      const out = await e.generate([ids, ids, ids], { maxNewTokens: 5, temperature: 1, seed: 1 });
      assert.equal(out.length, 3);
      for (const c of out) {
        assert.ok(c.tokenIds.length <= 5);
        assert.equal(c.logProbs.length, c.tokenIds.length);
        for (const lp of c.logProbs) assert.ok(lp <= 1e-6 && Number.isFinite(lp), `log-prob ${lp}`);
        assert.ok(['stop', 'eos', 'length', 'abort'].includes(c.finishReason));
      }
    });
    it('stops right after a stop string and keeps it', async () => {
      if (!opts.stop) return;
      const e = await make();
      const [c] = await e.generate([e.tokenizer.encode(opts.prompt)], {
        maxNewTokens: 64,
        temperature: 0,
        stop: [opts.stop],
      });
      if (c?.finishReason === 'stop') {
        assert.ok(c.text.endsWith(opts.stop), `text ends with the stop string: ${JSON.stringify(c.text.slice(-40))}`);
        assert.equal(c.text.indexOf(opts.stop), c.text.length - opts.stop.length, 'stops at the first occurrence');
      }
    });
    it('alternatives, when the engine reports them, are the most likely tokens, best first', async () => {
      const e = await make();
      const k = Math.min(3, e.maxTopLogprobs ?? 0);
      if (k === 0) return;
      const [c] = await e.generate([e.tokenizer.encode(opts.prompt)], {
        maxNewTokens: 4,
        temperature: 0,
        topLogprobs: k,
      });
      assert.ok(c, 'one completion');
      assert.equal(c.topLogProbs?.length, c.tokenIds.length, 'a list of alternatives per token');
      c.topLogProbs!.forEach((top, t) => {
        assert.equal(top.length, k);
        for (let j = 1; j < k; j++) assert.ok(top[j]!.logProb <= top[j - 1]!.logProb, `step ${t}: best first`);
        // Greedy: the sampled token is the most likely one, with its own log-prob.
        assert.ok(Math.abs(top[0]!.logProb - c.logProbs[t]!) < 1e-5, `step ${t}: the greedy token leads`);
      });
    });
    it('a streaming path reports each token before it returns, as generate would', async () => {
      const e = await make();
      if (!e.generateStream) return;
      const ids = e.tokenizer.encode(opts.prompt);
      const params = { maxNewTokens: 5, temperature: 1, seed: 3 };
      const seen: number[][] = [[], []];
      let settled = false;
      const out = await e.generateStream([ids, ids], params, (ev) => {
        assert.ok(!settled, 'an event after the call returned');
        seen[ev.row]!.push(ev.tokenId);
      });
      settled = true;
      assert.deepEqual(
        seen,
        out.map((c) => c.tokenIds),
      );
      assert.deepEqual(
        out.map((c) => c.tokenIds),
        (await e.generate([ids, ids], params)).map((c) => c.tokenIds),
      );
    });
  });
}

/** Conformance suite for a TaskSource: splits load, ids unique, loading is deterministic. */
export function testTaskSource(name: string, make: () => TaskSource | Promise<TaskSource>): void {
  suite(`task-source conformance: ${name}`, (it) => {
    it('loads every split with unique ids, deterministically', async () => {
      const s = await make();
      const splits = s.splits();
      assert.ok(splits.length > 0);
      for (const split of splits) {
        const a = await s.load(split, { limit: 20, seed: 1 });
        const b = await s.load(split, { limit: 20, seed: 1 });
        assert.ok(a.length > 0 && a.length <= 20, `${split}: 1..20 tasks`);
        assert.equal(new Set(a.map((t) => t.id)).size, a.length, `${split}: unique ids`);
        assert.deepEqual(a, b, `${split}: same seed, same tasks`);
        for (const t of a) assert.ok(typeof t.problem === 'string' && t.problem.length > 0);
      }
    });
  });
}
