// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultCliEnv, createRegistry } from '../../../core/index.js';
import { testRolloutEngine } from '../../../core/testkit/index.js';
import { builtinPlugins } from '../../../plugins/index.js';
import type { OpenAIRolloutEngine } from '../../../plugins/openai-engine/engine.js';
import { BatchingEngine, createServer, listen, type RunningServer } from '../../../plugins/serve/public.js';
import { SCRIPT, ScriptPolicy, TwoTurnLoop, charTokenizer, scriptLogProb } from '../serve/doubles.js';
import { makeEngine } from './helpers.js';

const enc = charTokenizer.encode;

describe('rollout/openai over agent0 serve', () => {
  const policy = new ScriptPolicy();
  let srv: RunningServer;
  let engine: OpenAIRolloutEngine;
  before(async () => {
    srv = await listen(
      createServer({
        engine: new BatchingEngine(policy, { windowMs: 5, maxRows: 64 }),
        modelName: 'script',
        limits: { maxTokens: 256, maxN: 16 },
      }),
      '127.0.0.1',
      0,
    );
    engine = makeEngine({ urls: [srv.url] });
  });
  after(async () => {
    await engine.dispose();
    await srv.close();
  });
  beforeEach(() => {
    policy.calls.length = 0;
  });

  testRolloutEngine('rollout/openai -> agent0 serve', () => engine, { prompt: 'hello', stop: 'STOP' });

  it("brings back the policy's exact ids, log-probs and stop string", async () => {
    const [c] = await engine.generate([enc('hi')], { maxNewTokens: 64, temperature: 0, stop: ['STOP'] });
    expect(policy.calls[0]!.prompts).to.deep.equal([enc('hi')]);
    expect(c).to.deep.equal({
      tokenIds: enc('abc def STOP'),
      text: 'abc def STOP',
      stopString: 'STOP',
      finishReason: 'stop',
      logProbs: enc('abc def STOP').map((_, t) => scriptLogProb(t)),
    });
  });

  it('tells EOS from a stop string and from the length limit', async () => {
    const [eos, len] = await Promise.all([
      engine.generate([enc('a')], { maxNewTokens: 100, temperature: 0 }),
      engine.generate([enc('a')], { maxNewTokens: 3, temperature: 0 }),
    ]);
    expect(eos[0]).to.deep.include({ text: SCRIPT, finishReason: 'eos' });
    expect(eos[0]!.tokenIds).to.deep.equal([...enc(SCRIPT), 0]);
    expect(len[0]).to.deep.include({ text: 'abc', finishReason: 'length' });
  });

  it('asks for the samples of one prompt with n and gets distinct rows back', async () => {
    const out = await engine.generate([enc('p'), enc('p'), enc('p')], { maxNewTokens: 5, temperature: 1, seed: 4 });
    expect(out.map((c) => c.text)).to.deep.equal(['[4:0]', '[4:1]', '[4:2]']);
    expect(policy.calls.map((c) => c.rows)).to.deep.equal([3]);
  });

  it('speaks the chat API too, with the sampled ids coming back', async () => {
    const chat = makeEngine({ urls: [srv.url], api: 'chat' });
    const [c] = await chat.generate([enc('hi')], { maxNewTokens: 64, temperature: 0, stop: ['STOP'] });
    expect(c).to.deep.include({
      text: 'abc def STOP',
      tokenIds: enc('abc def STOP'),
      finishReason: 'stop',
      stopString: 'STOP',
    });
    // The decoded prompt went as one user message, rendered by the server's fallback transcript.
    expect(policy.calls[0]!.prompts).to.deep.equal([enc('user: hi\nassistant:')]);
    await chat.dispose();
  });

  it('runs an agent loop unchanged: same trajectories as on the policy itself', async () => {
    const reqs = ['x', 'yy', 'zzz'].map((p, i) => ({ id: `r${i}`, groupId: 'g', promptIds: enc(p) }));
    const sampling = { maxNewTokens: 40, temperature: 0 };
    const remote = await new TwoTurnLoop().run(engine, reqs, sampling);
    const local = await new TwoTurnLoop().run(policy, reqs, sampling);
    expect(remote).to.deep.equal(local);
    expect(remote[0]!.text).to.equal('abc def STOP ghi jkl.\n[obs]\nabc ');
  });
});

describe('rollout/openai as a component', () => {
  const fixture = fileURLToPath(new URL('../../fixtures/openai-engine/wordlevel', import.meta.url));
  const env = async () =>
    new DefaultCliEnv(await createRegistry(builtinPlugins), { builtins: builtinPlugins, stderr: () => {} });

  it('tokenizes with an HF folder named by tokenizerPath (no weights needed)', async () => {
    const e = await (
      await env()
    ).createComponent('rollout', 'openai', { urls: ['http://127.0.0.1:1/v1'], tokenizerPath: fixture });
    expect(e.tokenizer.encode('hello world the answer')).to.deep.equal([2, 3, 4, 5]);
    expect(e.tokenizer.eosIds).to.deep.equal([0]);
    expect(e.tokenizer.vocabSize).to.equal(6);
    expect((e as OpenAIRolloutEngine).vocabSize).to.equal(6);
  });

  it("bounds answers' token ids by the model's vocab_size from config.json, padded past the tokenizer", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'a0-vocab-'));
    for (const f of ['tokenizer.json', 'tokenizer_config.json'])
      await fs.copyFile(path.join(fixture, f), path.join(dir, f));
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ vocab_size: 16 }));
    const en = await env();
    const e = (await en.createComponent('rollout', 'openai', {
      urls: ['http://127.0.0.1:1/v1'],
      tokenizerPath: dir,
    })) as OpenAIRolloutEngine;
    expect([e.tokenizer.vocabSize, e.vocabSize]).to.deep.equal([6, 16]);
    const set = (await en.createComponent('rollout', 'openai', {
      urls: ['http://127.0.0.1:1/v1'],
      tokenizerPath: dir,
      vocabSize: 32,
    })) as OpenAIRolloutEngine;
    expect(set.vocabSize).to.equal(32);
  });

  it('borrows the tokenizer of another recipe instance by name', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'a0-openai-'));
    const file = path.join(dir, 'r.yaml');
    await fs.writeFile(
      file,
      [
        'name: remote',
        'seed: 1',
        'components:',
        `  tok: { use: rollout/openai, options: { urls: ["http://127.0.0.1:1/v1"], tokenizerPath: ${JSON.stringify(fixture)} } }`,
        '  remote: { use: rollout/openai, options: { urls: ["http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"], tokenizer: tok } }',
        'pipeline: { iterations: 0 }',
      ].join('\n'),
    );
    const en = await env();
    const s = await en.openSession(await en.loadRecipe(file));
    const [tok, remote] = [await s.get('tok', 'rollout'), await s.get('remote', 'rollout')];
    expect(remote.tokenizer).to.equal(tok.tokenizer);
    await s.close();
  });

  it('refuses to start without a tokenizer, and rejects bad options', async () => {
    const en = await env();
    const err = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e: Error) => e.message,
      );
    expect(await err(en.createComponent('rollout', 'openai', {}))).to.match(/set `tokenizer`.*or `tokenizerPath`/);
    expect(await err(en.createComponent('rollout', 'openai', { urls: ['ftp://x'] }))).to.match(/urls/);
    expect(await err(en.createComponent('rollout', 'openai', { retries: -1, tokenizerPath: fixture }))).to.match(
      /retries/,
    );
  });
});
