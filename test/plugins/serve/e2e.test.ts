/**
 * `agent0 serve` and `rollout/openai` end to end on the real tfjs policy: the tiny random-weight
 * Qwen3 fixture (test/fixtures/qwen3-tiny/untied) behind the server, the official openai client
 * and the remote engine in front of it, checked against the policy itself.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { DefaultCliEnv, createRegistry, type Policy } from '../../../core/index.js';
import { builtinPlugins } from '../../../plugins/index.js';
import { startServe, type Serving } from '../../../plugins/serve/public.js';
import { OpenAIRolloutEngine } from '../../../plugins/openai-engine/engine.js';
import { engineOptions } from '../openai-engine/helpers.js';

const checkpoint = fileURLToPath(new URL('../../fixtures/qwen3-tiny/untied', import.meta.url));
const wordlevel = fileURLToPath(new URL('../../fixtures/openai-engine/wordlevel', import.meta.url));

describe('agent0 serve on the tfjs policy (end to end)', () => {
  let s: Serving;
  let policy: Policy;
  let client: OpenAI;
  let model: string;

  before(async () => {
    const env = new DefaultCliEnv(await createRegistry(builtinPlugins), { builtins: builtinPlugins, stderr: () => {} });
    s = await startServe(['--checkpoint', checkpoint, '--port', '0', '--batch-window-ms', '10'], env);
    policy = await env.createComponent('policy', 'tfjs', { checkpoint });
    client = new OpenAI({ baseURL: s.url, apiKey: 'x', maxRetries: 0 });
    model = s.models[0]!;
  });
  after(async () => {
    await s.close();
    await policy.dispose();
  });

  it('reports the log-probs the policy itself assigns to the sampled tokens', async () => {
    const prompt = policy.tokenizer.encode('Hello world');
    const r = (await client.completions.create({
      model,
      prompt,
      max_tokens: 8,
      temperature: 1,
      seed: 5,
      n: 2,
      logprobs: 1,
      return_token_ids: true,
    } as never)) as OpenAI.Completion;
    expect(r.choices).to.have.length(2);
    for (const c of r.choices) {
      const ids = (c as unknown as { token_ids: number[] }).token_ids;
      expect(ids.length).to.be.within(1, 8);
      const served = c.logprobs!.token_logprobs!;
      const [row] = await policy.computeLogProbs({
        inputIds: [[...prompt, ...ids]],
        attentionMask: [[...prompt, ...ids].map(() => 1)],
      });
      const own = Array.from(row!.slice(prompt.length));
      own.forEach((lp, t) => expect(served[t]).to.be.closeTo(lp, 1e-4));
    }
  });

  it('greedy through rollout/openai equals greedy on the policy', async () => {
    // The fixture's model has more embedding rows than its tokenizer has tokens, and samples them.
    const remote = new OpenAIRolloutEngine(
      engineOptions({ urls: [s.url], vocabSize: policy.describe().vocab as number }),
      policy.tokenizer,
    );
    const prompts = ['1+1=', 'Hello', 'abc'].map((t) => policy.tokenizer.encode(t));
    const params = { maxNewTokens: 10, temperature: 0 };
    const [got, want] = [
      await remote.generate(prompts, params, { affinityKeys: ['a', 'b', 'c'] }),
      await policy.generate(prompts, params),
    ];
    expect(got.map((c) => c.tokenIds)).to.deep.equal(want.map((c) => c.tokenIds));
    expect(got.map((c) => c.finishReason)).to.deep.equal(want.map((c) => c.finishReason));
    got.forEach((c, i) => c.logProbs.forEach((lp, t) => expect(lp).to.be.closeTo(want[i]!.logProbs[t]!, 1e-5)));
    await remote.dispose();
  });

  it('policy/remote-rollout samples on the server and scores locally', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'a0-hybrid-'));
    const file = path.join(dir, 'r.yaml');
    await fs.writeFile(
      file,
      [
        'name: hybrid',
        'seed: 1',
        'components:',
        `  local: { use: policy/tfjs, options: { checkpoint: ${JSON.stringify(checkpoint)} } }`,
        `  remote: { use: rollout/openai, options: { urls: [${JSON.stringify(s.url)}], tokenizer: local } }`,
        '  executor: { use: policy/remote-rollout, options: { policy: local, rollout: remote } }',
        `  other: { use: rollout/openai, options: { urls: [${JSON.stringify(s.url)}], tokenizerPath: ${JSON.stringify(wordlevel)} } }`,
        '  mismatched: { use: policy/remote-rollout, options: { policy: local, rollout: other } }',
        'pipeline: { iterations: 0 }',
      ].join('\n'),
    );
    const env = new DefaultCliEnv(await createRegistry(builtinPlugins), { builtins: builtinPlugins, stderr: () => {} });
    const session = await env.openSession(await env.loadRecipe(file));
    try {
      const executor = await session.get('executor', 'policy');
      const local = await session.get('local', 'policy');
      const prompts = ['2+2=', 'Hi'].map((t) => executor.tokenizer.encode(t));
      const calls = s.batcher.stats().calls;
      const [got, want] = [
        await executor.generate(prompts, { maxNewTokens: 6, temperature: 0 }),
        await local.generate(prompts, { maxNewTokens: 6, temperature: 0 }),
      ];
      expect(s.batcher.stats().calls).to.be.above(calls);
      expect(got.map((c) => c.tokenIds)).to.deep.equal(want.map((c) => c.tokenIds));
      const batch = {
        inputIds: [[...prompts[0]!, ...got[0]!.tokenIds]],
        attentionMask: [[...prompts[0]!, ...got[0]!.tokenIds].map(() => 1)],
      };
      expect(Array.from((await executor.computeLogProbs(batch))[0]!)).to.deep.equal(
        Array.from((await local.computeLogProbs(batch))[0]!),
      );
      expect(executor.describe()).to.include({ rollout: 'remote' });
      // The ids answers may hold are bounded by the local model's vocabulary, not its tokenizer's.
      expect(((await session.get('remote', 'rollout')) as OpenAIRolloutEngine).vocabSize).to.equal(
        local.describe().vocab,
      );
      const err = await session.get('mismatched', 'policy').then(
        () => null,
        (e: Error) => e.message,
      );
      expect(err).to.match(/tokenizer .* disagree/);
    } finally {
      await session.close();
    }
  });

  it('follows training: rollout/openai makes the server load a newer checkpoint', async () => {
    const env = new DefaultCliEnv(await createRegistry(builtinPlugins), { builtins: builtinPlugins, stderr: () => {} });
    const live = await startServe(['--checkpoint', checkpoint, '--port', '0', '--allow-reload'], env);
    const trained = await env.createComponent('policy', 'tfjs', { checkpoint });
    const remote = new OpenAIRolloutEngine(
      engineOptions({ urls: [live.url], weightSync: 'from-disk', vocabSize: trained.describe().vocab as number }),
      trained.tokenizer,
    );
    try {
      const prompt = trained.tokenizer.encode('1+1=');
      const ids = [...prompt, ...trained.tokenizer.encode(' 2 and 3')];
      const batch = { inputIds: [ids], attentionMask: [ids.map(() => 1)] };
      const stats = await trained.trainStep(batch, (fwd) => ({ loss: tf.neg(tf.mean(fwd.logProbs)) as tf.Scalar }), {
        lr: 0.05,
      });
      expect(stats.step).to.equal(1);
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'a0-reload-'));
      await trained.save(dir);
      const params = { maxNewTokens: 6, temperature: 0 };
      const [want] = await trained.generate([prompt], params);
      const [before] = await remote.generate([prompt], params);
      const gap = (c: typeof want) => Math.max(...c!.logProbs.map((lp, t) => Math.abs(lp - want!.logProbs[t]!)));
      expect(
        before!.tokenIds.join() !== want!.tokenIds.join() || gap(before) > 1e-3,
        'training changed the model',
      ).to.equal(true);
      await remote.loadWeights!(dir);
      const [after] = await remote.generate([prompt], params);
      expect(after!.tokenIds).to.deep.equal(want!.tokenIds);
      expect(gap(after)).to.be.below(1e-4);
    } finally {
      await remote.dispose();
      await live.close();
      await trained.dispose();
    }
  });

  it('stops at the first occurrence of a stop string', async () => {
    const base = await client.completions.create({ model, prompt: 'Hello', max_tokens: 16, temperature: 0 });
    const full = base.choices[0]!.text;
    const at = [...full].findIndex((ch, i) => i >= 2 && ch !== '\uFFFD' && ch.trim() !== '');
    expect(at, `a usable stop character in ${JSON.stringify(full)}`).to.be.above(0);
    const stop = [...full][at]!;
    const r = await client.completions.create({ model, prompt: 'Hello', max_tokens: 16, temperature: 0, stop: [stop] });
    expect(r.choices[0]!.finish_reason).to.equal('stop');
    expect(r.choices[0]!.text).to.equal(full.slice(0, full.indexOf(stop)));
  });

  it('top_logprobs are the most likely tokens of the distribution the policy trains on', async () => {
    // Chat's list form: completions' dict form merges alternatives that decode to the same string.
    const r = (await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 3,
      temperature: 1,
      seed: 2,
      logprobs: true,
      top_logprobs: 4,
      return_token_ids: true,
    } as never)) as OpenAI.ChatCompletion;
    const c = r.choices[0] as unknown as {
      token_ids: number[];
      prompt_token_ids: number[];
      logprobs: OpenAI.ChatCompletion.Choice.Logprobs;
    };
    const V = policy.describe().vocab as number;
    expect(c.logprobs.content).to.have.length(c.token_ids.length);
    for (let t = 0; t < c.token_ids.length; t++) {
      // Reference: the log-prob of every vocabulary entry after the prefix, by the training forward pass.
      const prefix = [...c.prompt_token_ids, ...c.token_ids.slice(0, t)];
      const rows = Array.from({ length: V }, (_, id) => [...prefix, id]);
      const lp = await policy.computeLogProbs({ inputIds: rows, attentionMask: rows.map((x) => x.map(() => 1)) });
      const all = lp.map((row) => row[prefix.length]!).sort((a, b) => b - a);
      const served = c.logprobs.content![t]!.top_logprobs.map((x) => x.logprob);
      expect(served).to.have.length(4);
      served.forEach((x, j) => expect(x, `step ${t} rank ${j}`).to.be.closeTo(all[j]!, 1e-4));
    }
  });

  it('renders a developer message as the system message of the chat template', async () => {
    const ask = (role: 'developer' | 'system') =>
      client.chat.completions.create({
        model,
        messages: [
          { role, content: 'Answer briefly.' },
          { role: 'user', content: 'hi' },
        ],
        max_tokens: 6,
        temperature: 0,
      });
    const [dev, sys] = [await ask('developer'), await ask('system')];
    expect(dev.usage!.prompt_tokens).to.equal(sys.usage!.prompt_tokens);
    expect(dev.choices[0]!.message.content).to.equal(sys.choices[0]!.message.content);
  });

  it('streams completions with the same text and log-probs as a plain answer (worker threads)', async () => {
    const ask = { model, prompt: 'Hello', max_tokens: 12, temperature: 1, seed: 9, n: 2, logprobs: 0 };
    const plain = await client.completions.create(ask);
    const text = ['', ''];
    const lps: number[][] = [[], []];
    for await (const chunk of await client.completions.create({ ...ask, stream: true })) {
      for (const c of chunk.choices) {
        text[c.index] += c.text;
        lps[c.index]!.push(...((c.logprobs?.token_logprobs ?? []) as number[]));
      }
    }
    expect(text).to.deep.equal(plain.choices.map((c) => c.text));
    expect(lps).to.deep.equal(plain.choices.map((c) => c.logprobs!.token_logprobs));
  });

  it('a failed reload says why in one line, without a stack trace', async () => {
    const env = new DefaultCliEnv(await createRegistry(builtinPlugins), { builtins: builtinPlugins, stderr: () => {} });
    const live = await startServe(['--checkpoint', checkpoint, '--port', '0', '--allow-reload'], env);
    try {
      const r = await fetch(live.url.replace(/\/v1$/, '/update_weights_from_disk'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model_path: '/nonexistent/agent0-ckpt' }),
      });
      expect(r.status).to.equal(400);
      const body = (await r.json()) as { success: boolean; message: string };
      expect(body.success).to.equal(false);
      expect(body.message).to.match(/^could not load \/nonexistent\/agent0-ckpt: ENOENT/);
      expect(body.message).to.not.match(/\n|\bat .*\.ts:\d+/);
    } finally {
      await live.close();
    }
  });

  it('streams chat with the same text as a plain chat answer', async () => {
    const ask = { model, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 8, temperature: 0 };
    const plain = await client.chat.completions.create(ask);
    let streamed = '';
    for await (const chunk of await client.chat.completions.create({ ...ask, stream: true }))
      streamed += chunk.choices[0]?.delta.content ?? '';
    expect(streamed).to.equal(plain.choices[0]!.message.content);
  });
});
