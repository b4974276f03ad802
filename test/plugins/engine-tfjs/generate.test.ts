import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../core/index.js';
import { selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';
import { findStop } from '../../../plugins/engine-tfjs/generate/generate.js';
import { sampleToken } from '../../../plugins/engine-tfjs/generate/sampler.js';
import { logSoftmax, testPolicy } from './helpers.js';

describe('engine-tfjs: generation', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it('greedy KV-cache decoding of a ragged batch equals full recomputation, token for token', async () => {
    const p = await testPolicy(21, { batchSize: 3 });
    const prompts = [[5, 17, 3, 40], [9], [60, 61, 62, 63, 64, 65, 66], [12, 13]];
    const out = await p.generate(prompts, { maxNewTokens: 12, temperature: 0, stopTokenIds: [] });
    for (let i = 0; i < prompts.length; i++) {
      const c = out[i]!;
      // With eos id 1 possible, a row may end early; every emitted token must still be the argmax.
      expect(c.tokenIds.length).to.be.greaterThan(0);
      const seq = [...prompts[i]!];
      c.tokenIds.forEach((tok, k) => {
        const logits = p.model.logits([seq]);
        const row = (logits.arraySync() as number[][][])[0]!.at(-1)!;
        logits.dispose();
        const lsm = logSoftmax(row);
        const best = lsm.indexOf(Math.max(...lsm));
        expect(tok, `prompt ${i} token ${k}`).to.equal(best);
        expect(c.logProbs[k]!).to.be.closeTo(lsm[tok]!, 1e-4);
        seq.push(tok);
      });
      if (c.finishReason === 'length') expect(c.tokenIds.length).to.equal(12);
      else expect(c.finishReason).to.equal('eos');
    }
    p.dispose();
  });

  it('computeLogProbs of prompt + completion equals the log-probs generate() returned', async () => {
    const p = await testPolicy(4, { batchSize: 4 });
    const prompts = [[5, 6, 7], [20, 30, 40, 50, 60], [70]];
    const out = await p.generate(prompts, { maxNewTokens: 10, temperature: 1, seed: 9 });
    const seqs = prompts.map((pr, i) => [...pr, ...out[i]!.tokenIds]);
    const T = Math.max(...seqs.map((s) => s.length));
    const batch = {
      inputIds: seqs.map((s) => [...s, ...new Array<number>(T - s.length).fill(0)]),
      attentionMask: seqs.map((s) => [...s.map(() => 1), ...new Array<number>(T - s.length).fill(0)]),
    };
    const lp = await p.computeLogProbs(batch, { microBatchSize: 2 });
    prompts.forEach((pr, i) => {
      const c = out[i]!;
      expect(c.tokenIds.length).to.be.greaterThan(0);
      c.tokenIds.forEach((_, k) =>
        expect(lp[i]![pr.length + k]!, `row ${i} token ${k}`).to.be.closeTo(c.logProbs[k]!, 2e-4),
      );
      expect(lp[i]![0]).to.equal(0);
      for (let t = seqs[i]!.length; t < T; t++) expect(lp[i]![t]).to.equal(0);
    });
    p.dispose();
  });

  it('is reproducible for a seed, differs across seeds, and honours maxNewTokens', async () => {
    const p = await testPolicy(8);
    const prompts = [[10, 11, 12], [10, 11, 12], [40]];
    const a = await p.generate(prompts, { maxNewTokens: 15, temperature: 1.5, seed: 1, stopTokenIds: [] });
    const b = await p.generate(prompts, { maxNewTokens: 15, temperature: 1.5, seed: 1, stopTokenIds: [] });
    const c = await p.generate(prompts, { maxNewTokens: 15, temperature: 1.5, seed: 2, stopTokenIds: [] });
    expect(a.map((x) => x.tokenIds)).to.deep.equal(b.map((x) => x.tokenIds));
    expect(a.map((x) => x.tokenIds)).to.not.deep.equal(c.map((x) => x.tokenIds));
    // Two rows with the same prompt draw from their own streams.
    expect(a[0]!.tokenIds).to.not.deep.equal(a[1]!.tokenIds);
    // Without a seed, successive calls draw fresh samples; a policy built the same way repeats them.
    const u1 = await p.generate(prompts, { maxNewTokens: 15, temperature: 1.5, stopTokenIds: [] });
    const u2 = await p.generate(prompts, { maxNewTokens: 15, temperature: 1.5, stopTokenIds: [] });
    expect(u1.map((x) => x.tokenIds)).to.not.deep.equal(u2.map((x) => x.tokenIds));
    const twin = await testPolicy(8);
    expect(
      (await twin.generate(prompts, { maxNewTokens: 15, temperature: 1.5, stopTokenIds: [] })).map((x) => x.tokenIds),
    ).to.deep.equal(u1.map((x) => x.tokenIds));
    twin.dispose();
    for (const x of a) {
      if (x.finishReason === 'length') expect(x.tokenIds.length).to.equal(15);
      expect(x.tokenIds.length).to.be.at.most(15);
    }
    p.dispose();
  });

  it('with sample keys, a row samples the same tokens whatever else shares its batch', async () => {
    const p = await testPolicy(8);
    const sp = { maxNewTokens: 12, temperature: 1.5, seed: 3, stopTokenIds: [] };
    const alone = await p.generate([[10, 11, 12]], sp, { sampleKeys: ['traj-a#1'] });
    const mixed = await p.generate([[40], [10, 11, 12], [7, 8]], sp, {
      sampleKeys: ['traj-b#0', 'traj-a#1', 'traj-c#2'],
    });
    expect(mixed[1]!.tokenIds).to.deep.equal(alone[0]!.tokenIds);
    const other = await p.generate([[10, 11, 12]], sp, { sampleKeys: ['traj-z#1'] });
    expect(other[0]!.tokenIds).to.not.deep.equal(alone[0]!.tokenIds);
    p.dispose();
  });

  it('stops right after a stop string or an EOS id, and reports why', async () => {
    const p = await testPolicy(3);
    const prompt = [[30, 31, 32]];
    const [free] = await p.generate(prompt, { maxNewTokens: 20, temperature: 0, stopTokenIds: [] });
    expect(free!.finishReason).to.equal('length');
    // A stop string taken from the greedy text itself must cut the text right after its first occurrence.
    const text = free!.text;
    const stop = text.slice(5, 7);
    const first = text.indexOf(stop);
    const [s] = await p.generate(prompt, {
      maxNewTokens: 20,
      temperature: 0,
      stop: ['zzzz-never', stop],
      stopTokenIds: [],
    });
    expect(s!.finishReason).to.equal('stop');
    expect(s!.stopString).to.equal(stop);
    expect(s!.text).to.equal(text.slice(0, first + stop.length));
    expect(s!.tokenIds).to.deep.equal(free!.tokenIds.slice(0, s!.tokenIds.length));
    // An extra stop id ends generation at its first occurrence (the id is kept, as the tokens it ends).
    const k = 6;
    const eosTok = free!.tokenIds[k]!;
    const at = free!.tokenIds.indexOf(eosTok);
    const [e] = await p.generate(prompt, { maxNewTokens: 20, temperature: 0, stopTokenIds: [eosTok] });
    expect(e!.finishReason).to.equal('eos');
    expect(e!.tokenIds).to.deep.equal(free!.tokenIds.slice(0, at + 1));
    const [n] = await p.generate(prompt, { maxNewTokens: 4, temperature: 0, stopTokenIds: [] });
    expect(n!.finishReason).to.equal('length');
    expect(n!.tokenIds).to.deep.equal(free!.tokenIds.slice(0, 4));
    p.dispose();
  });

  it('findStop picks the earliest-ending stop string, also across chunk boundaries', () => {
    expect(findStop('abc```output', ['```output'], 3)).to.deep.equal({ stop: '```output', end: 12 });
    expect(findStop('xx END yy STOP', ['STOP', 'END'], 0)).to.deep.equal({ stop: 'END', end: 6 });
    expect(findStop('no stop here', ['STOP'], 0)).to.equal(undefined);
  });

  describe('sampler', () => {
    const logits = Float32Array.from([2, 1, 0.5, 0, -1]);
    const probs = (x: number[], temp: number): number[] => {
      const e = x.map((v) => Math.exp(v / temp));
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / z);
    };
    const freq = (cfg: { temperature: number; topP: number; topK: number }, n = 20000): number[] => {
      const rng = new Rng(123, 'sampler');
      const f = new Array<number>(5).fill(0);
      for (let i = 0; i < n; i++) f[sampleToken(logits, cfg, rng)]! += 1 / n;
      return f;
    };

    it('temperature 0 is argmax; top-k 1 and tiny top-p are argmax too', () => {
      const rng = new Rng(1);
      for (let i = 0; i < 50; i++) {
        expect(sampleToken(logits, { temperature: 0, topP: 1, topK: 0 }, rng)).to.equal(0);
        expect(sampleToken(logits, { temperature: 1, topP: 1, topK: 1 }, rng)).to.equal(0);
        expect(sampleToken(logits, { temperature: 1, topP: 0.01, topK: 0 }, rng)).to.equal(0);
      }
    });

    it('draws from softmax(logits / T)', () => {
      const f = freq({ temperature: 2, topP: 1, topK: 0 });
      probs([2, 1, 0.5, 0, -1], 2).forEach((p, i) => expect(f[i]).to.be.closeTo(p, 0.015));
    });

    it('top-k keeps the k most likely tokens, renormalised', () => {
      const f = freq({ temperature: 1, topP: 1, topK: 2 });
      const p = probs([2, 1], 1);
      expect(f[0]).to.be.closeTo(p[0]!, 0.015);
      expect(f[1]).to.be.closeTo(p[1]!, 0.015);
      expect(f[2]! + f[3]! + f[4]!).to.equal(0);
    });

    it('top-p keeps the smallest head whose mass reaches p', () => {
      const p = probs([2, 1, 0.5, 0, -1], 1);
      // p0 + p1 ≈ 0.74 < 0.8 ≤ p0 + p1 + p2 ≈ 0.86: three tokens survive.
      const f = freq({ temperature: 1, topP: 0.8, topK: 0 });
      const z = p[0]! + p[1]! + p[2]!;
      [0, 1, 2].forEach((i) => expect(f[i]).to.be.closeTo(p[i]! / z, 0.015));
      expect(f[3]! + f[4]!).to.equal(0);
    });
  });

  it('leaves no tensors behind', async () => {
    const p = await testPolicy(2, { batchSize: 2 });
    await p.generate([[3, 4], [5, 6, 7], [8]], { maxNewTokens: 6, temperature: 1, seed: 1 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++)
      await p.generate([[3, 4], [5, 6, 7], [8]], { maxNewTokens: 6, temperature: 1, seed: i, stop: ['x'] });
    expect(tf.memory().numTensors).to.equal(before);
    p.dispose();
  });
});

describe('engine-tfjs: sampler on a large vocabulary', () => {
  /** The textbook procedure: sort everything, cut top-k, then the top-p head, renormalise. */
  function reference(logits: Float32Array, temp: number, topK: number, topP: number): number[] {
    const V = logits.length;
    const m = Math.max(...logits);
    const p = Array.from(logits, (l) => Math.exp((l - m) / temp));
    const order = Array.from({ length: V }, (_, j) => j).sort((a, b) => p[b]! - p[a]! || a - b);
    let keep = topK > 0 ? Math.min(topK, V) : V;
    const mass = topK > 0 ? order.slice(0, keep).reduce((a, j) => a + p[j]!, 0) : p.reduce((a, b) => a + b, 0);
    let cum = 0;
    for (let n = 0; n < keep; n++) {
      cum += p[order[n]!]!;
      if (topP < 1 && cum >= topP * mass) {
        keep = n + 1;
        break;
      }
    }
    const z = order.slice(0, keep).reduce((a, j) => a + p[j]!, 0);
    const out = new Array<number>(V).fill(0);
    for (const j of order.slice(0, keep)) out[j] = p[j]! / z;
    return out;
  }

  for (const [name, topK, topP, temp] of [
    ['top-p 0.9', 0, 0.9, 1],
    ['top-k 40 + top-p 0.95', 40, 0.95, 0.8],
    ['top-p 0.999 (needs the full sort)', 0, 0.999, 1.5],
  ] as const) {
    it(`matches sort-everything sampling over 3 000 ids: ${name}`, () => {
      const rng0 = new Rng(9, 'logits');
      // Peaked like an LM's next-token distribution: 30 likely ids over a long tail.
      const logits = Float32Array.from({ length: 3000 }, (_, j) => (j < 30 ? 10 + 2 * rng0.next() : rng0.normal()));
      const want = reference(logits, temp, topK, topP);
      const rng = new Rng(4, name);
      const n = 3000;
      const f = new Map<number, number>();
      for (let i = 0; i < n; i++) {
        const t = sampleToken(logits, { temperature: temp, topK, topP }, rng);
        expect(want[t], `sampled id ${t} outside the kept set`).to.be.greaterThan(0);
        f.set(t, (f.get(t) ?? 0) + 1 / n);
      }
      // The 10 most likely ids are drawn at their renormalised rates.
      const top = want
        .map((p, j) => [p, j] as const)
        .sort((a, b) => b[0] - a[0])
        .slice(0, 10);
      for (const [p, j] of top) expect(f.get(j) ?? 0, `id ${j}`).to.be.closeTo(p, 0.03);
    });
  }
});
