import '@tensorflow/tfjs';
import { expect } from 'chai';
import { BatchingEngine } from '../../../plugins/serve/batcher.js';
import { ScriptPolicy, charTokenizer } from './doubles.js';

const enc = charTokenizer.encode;

describe('agent0 serve request batching', () => {
  it('serves requests that arrive while the policy is busy in its next call', async () => {
    const policy = new ScriptPolicy();
    policy.delayMs = 30;
    const b = new BatchingEngine(policy, { windowMs: 5, maxRows: 64 });
    const p = { maxNewTokens: 3, temperature: 0 };
    const first = b.generate([enc('a')], p);
    await new Promise((r) => setTimeout(r, 15)); // the first call is running now
    const later = await Promise.all([b.generate([enc('b')], p), b.generate([enc('c'), enc('d')], p)]);
    await first;
    expect(policy.calls.map((c) => c.prompts.map((x) => charTokenizer.decode(x)))).to.deep.equal([
      ['a'],
      ['b', 'c', 'd'],
    ]);
    expect(later.map((x) => x.length)).to.deep.equal([1, 2]);
  });

  it('never strands a request queued by a caller continuing after its own answer', async () => {
    const policy = new ScriptPolicy();
    const b = new BatchingEngine(policy, { windowMs: 0, maxRows: 8 });
    const p = { maxNewTokens: 2, temperature: 0 };
    // A caller that asks again a few microtasks after its answer (as an agent loop does between
    // rounds) may land just after the worker found the queue empty.
    const chain = async (hops: number) => {
      for (let turn = 0; turn < 5; turn++) {
        await b.generate([enc(`${hops}`)], p);
        for (let i = 0; i < hops; i++) await Promise.resolve();
      }
    };
    for (const hops of [0, 1, 2, 3, 4]) {
      await Promise.race([
        chain(hops),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`a request was never served (${hops} hops)`)), 2000),
        ),
      ]);
    }
    expect(b.stats().requests).to.equal(25);
  });

  it('keeps different sampling parameters in different calls and caps rows per call', async () => {
    const policy = new ScriptPolicy();
    const b = new BatchingEngine(policy, { windowMs: 5, maxRows: 3 });
    const [g, s] = [
      { maxNewTokens: 2, temperature: 0 },
      { maxNewTokens: 2, temperature: 1, seed: 1 },
    ];
    const out = await Promise.all([
      b.generate([enc('a'), enc('b')], g),
      b.generate([enc('c')], s),
      b.generate([enc('d'), enc('e')], g),
      b.generate([enc('f')], g),
    ]);
    expect(policy.calls.map((c) => c.prompts.map((x) => charTokenizer.decode(x)).join(''))).to.deep.equal([
      'abf',
      'c',
      'de',
    ]);
    expect(out.map((o) => o.map((c) => c.text))).to.deep.equal([['ab', 'ab'], ['[1'], ['ab', 'ab'], ['ab']]);
  });

  it('splits a request larger than maxRows over calls, never repeating a seeded row', async () => {
    const policy = new ScriptPolicy();
    const b = new BatchingEngine(policy, { windowMs: 0, maxRows: 4 });
    const out = await b.generate(
      Array.from({ length: 10 }, () => enc('x')),
      { maxNewTokens: 5, temperature: 1, seed: 7 },
    );
    expect(policy.calls.map((c) => c.rows)).to.deep.equal([4, 4, 2]);
    // The first call keeps the client's seed; calls that continue the request get fresh ones.
    expect(policy.calls.map((c) => c.params.seed)).to.deep.equal([7, 8, 9]);
    expect(new Set(out.map((c) => c.text)).size).to.equal(10);
  });

  it('lets a small request overtake a large one queued before it', async () => {
    const policy = new ScriptPolicy();
    policy.delayMs = 10;
    const b = new BatchingEngine(policy, { windowMs: 0, maxRows: 4 });
    const p = { maxNewTokens: 2, temperature: 0 };
    const order: string[] = [];
    const big = b
      .generate(
        Array.from({ length: 20 }, () => enc('b')),
        p,
      )
      .then(() => order.push('big'));
    while (policy.calls.length === 0) await new Promise((r) => setImmediate(r)); // the first call is running
    const small = b.generate([enc('s')], p).then(() => order.push('small'));
    await Promise.all([big, small]);
    expect(order).to.deep.equal(['small', 'big']);
    // Call 2 starts with the small request and fills the rest with the big one's rows.
    expect(policy.calls.map((c) => c.prompts.map((x) => charTokenizer.decode(x)).join(''))).to.deep.equal([
      'bbbb',
      'sbbb',
      'bbbb',
      'bbbb',
      'bbbb',
      'b',
    ]);
  });

  it('gives an exclusive task the policy between calls, queueing requests meanwhile', async () => {
    const policy = new ScriptPolicy();
    policy.delayMs = 30;
    const b = new BatchingEngine(policy, { windowMs: 0, maxRows: 8 });
    const log: string[] = [];
    const p = { maxNewTokens: 1, temperature: 0 };
    const first = b.generate([enc('a')], p).then(() => log.push('a done'));
    await new Promise((r) => setTimeout(r, 10)); // 'a' is being generated
    const swap = b.exclusive(async () => {
      log.push('swap start');
      await new Promise((r) => setTimeout(r, 30));
      log.push('swap end');
    });
    const second = b.generate([enc('b')], p).then(() => log.push('b done'));
    await Promise.all([first, swap, second]);
    expect(log).to.deep.equal(['a done', 'swap start', 'swap end', 'b done']);
  });

  it('passes a policy failure to every caller of that call', async () => {
    const b = new BatchingEngine(
      { tokenizer: charTokenizer, generate: () => Promise.reject(new Error('out of memory')) },
      { windowMs: 5, maxRows: 8 },
    );
    const rs = await Promise.allSettled([
      b.generate([[1]], { maxNewTokens: 1 }),
      b.generate([[2]], { maxNewTokens: 1 }),
    ]);
    expect(rs.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok'))).to.deep.equal([
      'out of memory',
      'out of memory',
    ]);
  });
});
