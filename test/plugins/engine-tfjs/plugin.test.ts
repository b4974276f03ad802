import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createRegistry, DefaultCliEnv, memoryLogger, type Policy } from '../../../core/index.js';
import engineTfjs from '../../../plugins/engine-tfjs/index.js';
import { chooseBackend, selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';
import { AUTO_PARALLEL_MAX_PARAMS, resolveWorkers } from '../../../plugins/engine-tfjs/create.js';
import { countParams, TINY_CONFIG } from '../../../plugins/engine-tfjs/model/config.js';
import { TinyTokenizer } from '../../../core/index.js';

describe('engine-tfjs: the policy/tfjs component', () => {
  const lines: string[] = [];
  const env = async () =>
    new DefaultCliEnv(await createRegistry([engineTfjs]), {
      builtins: [engineTfjs],
      log: memoryLogger(lines),
      stderr: (s) => {
        lines.push(s);
      },
    });
  after(async () => {
    await selectBackend('wasm');
  });

  it('builds the tiny embedded model by default: char tokenizer, random init, ~0.8M params', async () => {
    const p = (await (await env()).createComponent('policy', 'tfjs', { backend: 'wasm', seed: 3 })) as Policy;
    const d = p.describe();
    expect(d.params).to.equal(countParams({ ...TINY_CONFIG, vocab_size: new TinyTokenizer().vocabSize }));
    expect(d.params as number).to.be.within(0.5e6, 1e6);
    expect(d.backend).to.match(/wasm/);
    expect(lines.filter((l) => l.includes('tfjs backend:'))).to.have.length(1);
    const [c] = await p.generate([p.tokenizer.encode('1+1=')], { maxNewTokens: 8, temperature: 1, seed: 1 });
    expect(c!.tokenIds.length).to.be.within(1, 8);
    expect(c!.text).to.equal(p.tokenizer.decode(c!.tokenIds));
    await p.dispose();
  });

  it("adds tokenizerWords to the tiny tokenizer (the model's vocabulary grows with it); refuses them elsewhere", async () => {
    const e = await env();
    const small = {
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 16,
    };
    const p = (await e.createComponent('policy', 'tfjs', {
      seed: 1,
      tokenizer: 'tiny',
      tokenizerWords: ['print(', ' * '],
      config: small,
    })) as Policy;
    expect(p.tokenizer.vocabSize).to.equal(101);
    expect(p.describe().vocab).to.equal(101);
    expect(p.tokenizer.encode('print(6 * 7)')).to.have.length(5);
    await p.dispose();
    let err: unknown;
    try {
      await e.createComponent('policy', 'tfjs', { checkpoint: '/nonexistent', tokenizerWords: ['ab'] });
    } catch (x) {
      err = x;
    }
    expect(String(err)).to.match(/tokenizerWords applies to the 'tiny' tokenizer only/);
  });

  it('the same seed gives the same weights; another seed other weights', async () => {
    const e = await env();
    const lp = async (seed: number): Promise<number[]> => {
      const p = (await e.createComponent('policy', 'tfjs', {
        seed,
        config: {
          hidden_size: 32,
          intermediate_size: 64,
          num_hidden_layers: 1,
          num_attention_heads: 2,
          num_key_value_heads: 1,
          head_dim: 16,
        },
      })) as Policy;
      const ids = p.tokenizer.encode('12+34');
      const [r] = await p.computeLogProbs({ inputIds: [ids], attentionMask: [ids.map(() => 1)] });
      await p.dispose();
      return Array.from(r!);
    };
    expect(await lp(1)).to.deep.equal(await lp(1));
    expect(await lp(1)).to.not.deep.equal(await lp(2));
  });

  it('loads a checkpoint folder it saved (weights, tokenizer, optimizer step)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tfjs-plugin-'));
    try {
      const e = await env();
      const small = {
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        head_dim: 16,
      };
      const a = (await e.createComponent('policy', 'tfjs', { seed: 4, config: small })) as Policy;
      const ids = a.tokenizer.encode('7*8=56');
      const batch = { inputIds: [ids], attentionMask: [ids.map(() => 1)] };
      await a.trainStep(batch, (f) => ({ loss: tf.neg(tf.mean(f.logProbs)) as tf.Scalar }));
      await a.save(dir);
      const b = (await e.createComponent('policy', 'tfjs', { checkpoint: dir })) as Policy;
      expect(b.describe().step).to.equal(1);
      expect(b.tokenizer.vocabSize).to.equal(a.tokenizer.vocabSize);
      expect(await b.computeLogProbs(batch)).to.deep.equal(await a.computeLogProbs(batch));
      const r = await e.createComponent('rollout', 'tfjs', { checkpoint: dir });
      const [c] = await r.generate([ids], { maxNewTokens: 3, temperature: 0 });
      const [c2] = await b.generate([ids], { maxNewTokens: 3, temperature: 0 });
      expect(c!.tokenIds).to.deep.equal(c2!.tokenIds);
      await a.dispose();
      await b.dispose();
      await (r as Policy).dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('workers: 2 splits the work over threads and computes what one thread does', async () => {
    const e = await env();
    const small = {
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 16,
    };
    const make = async (workers: number): Promise<Policy> =>
      e.createComponent('policy', 'tfjs', {
        backend: 'wasm',
        seed: 4,
        config: small,
        workers,
        microBatchSize: 3,
      }) as Promise<Policy>;
    const [one, two] = [await make(1), await make(2)];
    try {
      expect(one.describe().workers).to.equal(undefined);
      expect(two.describe().workers).to.equal(2);
      expect(lines.some((l) => /2 worker threads/.test(l))).to.equal(true);
      const rows = ['12+34=46', '7*8', '100-1=99', '5'].map((t) => one.tokenizer.encode(t));
      const T = Math.max(...rows.map((r) => r.length));
      const batch = {
        inputIds: rows.map((r) => [...r, ...Array(T - r.length).fill(0)]),
        attentionMask: rows.map((r) => [...r.map(() => 1), ...Array(T - r.length).fill(0)]),
      };
      const loss = (f: { logProbs: tf.Tensor2D }): { loss: tf.Scalar } => ({
        loss: tf.neg(tf.mean(f.logProbs)) as tf.Scalar,
      });
      const [s1, s2] = [await one.trainStep(batch, loss), await two.trainStep(batch, loss)];
      expect(s2.loss).to.be.closeTo(s1.loss, 1e-6);
      expect(s2.gradNorm).to.be.closeTo(s1.gradNorm, 1e-5 * s1.gradNorm);
      const [a, b] = [await one.computeLogProbs(batch), await two.computeLogProbs(batch)];
      a.forEach((r, i) => r.forEach((x, t) => expect(b[i]![t]).to.be.closeTo(x, 1e-5)));
      const prompts = rows.map((r) => r.slice(0, 2));
      const g1 = await one.generate(prompts, { maxNewTokens: 6, temperature: 1, seed: 2 });
      const g2 = await two.generate(prompts, { maxNewTokens: 6, temperature: 1, seed: 2 });
      expect(g2.map((c) => c.tokenIds)).to.deep.equal(g1.map((c) => c.tokenIds));
    } finally {
      await one.dispose();
      await two.dispose();
    }
  });

  it('workers: null uses the cores on wasm/cpu for small models only; an explicit count always wins', () => {
    const cores = Math.min(4, os.availableParallelism());
    expect(resolveWorkers(null, 'wasm', 1e6)).to.equal(cores);
    expect(resolveWorkers(null, 'cpu', 1e6)).to.equal(cores);
    expect(resolveWorkers(null, 'wasm', AUTO_PARALLEL_MAX_PARAMS + 1)).to.equal(1);
    expect(resolveWorkers(null, 'tensorflow', 1e6)).to.equal(1);
    expect(resolveWorkers(null, 'webgpu', 1e6)).to.equal(1);
    expect(resolveWorkers(3, 'tensorflow', 1e9)).to.equal(3);
  });

  it('rejects bad options with a clear error', async () => {
    const e = await env();
    const fails = async (o: Record<string, unknown>, re: RegExp): Promise<void> => {
      let msg = '';
      await e.createComponent('policy', 'tfjs', o).catch((err: Error) => {
        msg = err.message;
      });
      expect(msg, JSON.stringify(o)).to.match(re);
    };
    await fails({ backend: 'cuda' }, /backend/);
    await fails({ microBatchSize: 0 }, /microBatchSize/);
    await fails({ config: { hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 3 } }, /multiple/);
    await fails({ config: { vocab_size: 10 } }, /tokenizer has 99 tokens/);
    await fails({ checkpoint: '/nonexistent/ckpt' }, /nonexistent/);
  });

  it('falls through unavailable backends in order and says why', async () => {
    const info = await chooseBackend('auto');
    // Neither tfjs-node flavour nor a WebGPU adapter exists on CI machines: wasm is the first that starts.
    expect(info.skipped.map((s) => s.split(':')[0])).to.deep.equal(['tfjs-node-gpu', 'tfjs-node', 'webgpu']);
    expect(info.choice).to.equal('wasm');
    const cpu = await selectBackend('cpu');
    expect(cpu.name).to.equal('cpu');
    expect(tf.getBackend()).to.equal('cpu');
  });
});
