// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import OpenAI from 'openai';
import { BatchingEngine, createServer, listen, type RunningServer } from '../../../plugins/serve/public.js';
import { charTokenizer, GatedStreamPolicy, scriptAlternatives, scriptLogProb, SCRIPT, TwoTurnLoop } from './doubles.js';
import { raw } from './raw-http.js';

/**
 * The parts of OpenAI's API that `agent0 serve` implements beyond plain completions, checked
 * with the official client: models.retrieve, top_logprobs, the developer role, response_format,
 * and streaming while the policy decodes.
 */
describe('agent0 serve: OpenAI API conformance', () => {
  let policy: GatedStreamPolicy;
  let srv: RunningServer;
  let client: OpenAI;

  before(async () => {
    policy = new GatedStreamPolicy();
    const engine = new BatchingEngine(policy, { windowMs: 1, maxRows: 64 });
    srv = await listen(
      createServer({ engine, modelName: 'script', loop: new TwoTurnLoop(), limits: { maxTokens: 256, maxN: 8 } }),
      '127.0.0.1',
      0,
    );
    client = new OpenAI({ baseURL: srv.url, apiKey: 'unused', maxRetries: 0 });
  });
  after(() => srv.close());
  beforeEach(() => {
    policy.calls.length = 0;
    policy.maxTopLogprobs = 3;
    policy.waitMs = 3000;
    delete policy.failWith;
  });

  it('models.retrieve answers a served id, and 404 for others', async () => {
    const m = await client.models.retrieve('script');
    expect(m).to.deep.include({ id: 'script', object: 'model', owned_by: 'agent0' });
    expect(m.created).to.be.a('number');
    expect((await client.models.retrieve('script:tools')).id).to.equal('script:tools');
    const err = await client.models.retrieve('nope').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).message).to.match(/'nope' does not exist/);
  });

  it('chat: top_logprobs lists the k most likely tokens the policy reported', async () => {
    const r = await client.chat.completions.create({
      model: 'script',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    });
    const content = r.choices[0]!.logprobs!.content!;
    expect(content.map((t) => t.token)).to.deep.equal(['a', 'b']);
    expect(content[0]!.top_logprobs).to.deep.equal([
      { token: 'a', logprob: scriptLogProb(0), bytes: [97] },
      { token: '?', logprob: scriptLogProb(0) - 1, bytes: [63] },
    ]);
    expect(content[1]!.top_logprobs.map((t) => [t.token, t.logprob])).to.deep.equal(
      scriptAlternatives(98, 1)
        .slice(0, 2)
        .map((a) => [String.fromCharCode(a.id), a.logProb]),
    );
    expect(policy.calls[0]!.params.topLogprobs).to.equal(2);
  });

  it('completions: logprobs k gives the sampled token and the k most likely, as OpenAI and vLLM do', async () => {
    const r = await client.completions.create({
      model: 'script',
      prompt: 'hi',
      max_tokens: 2,
      temperature: 0,
      logprobs: 1,
    });
    expect(r.choices[0]!.logprobs!.top_logprobs).to.deep.equal([{ a: scriptLogProb(0) }, { b: scriptLogProb(1) }]);
    const three = await client.completions.create({
      model: 'script',
      prompt: 'hi',
      max_tokens: 1,
      temperature: 0,
      logprobs: 3,
    });
    expect(three.choices[0]!.logprobs!.top_logprobs).to.deep.equal([
      { a: scriptLogProb(0), '?': scriptLogProb(0) - 1, '!': scriptLogProb(0) - 2 },
    ]);
    // logprobs: 0 asks for the sampled token only, which every policy reports.
    const zero = await client.completions.create({
      model: 'script',
      prompt: 'hi',
      max_tokens: 1,
      temperature: 0,
      logprobs: 0,
    });
    expect(zero.choices[0]!.logprobs!.top_logprobs).to.deep.equal([{ a: scriptLogProb(0) }]);
    expect(policy.calls.at(-1)!.params).to.not.have.property('topLogprobs');
  });

  it('refuses alternatives the policy cannot compute, and in tool mode, before any work', async () => {
    policy.maxTopLogprobs = 0;
    const err = await client.chat.completions
      .create({ model: 'script', messages: [{ role: 'user', content: 'hi' }], logprobs: true, top_logprobs: 2 })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).to.be.instanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).to.match(/reports no alternatives per token/);
    policy.maxTopLogprobs = 3;
    const tools = await client.completions.create({ model: 'script:tools', prompt: 'hi', logprobs: 2 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(tools).to.be.instanceOf(OpenAI.BadRequestError);
    expect(policy.calls).to.have.length(0);
  });

  it('takes the developer role as system instructions', async () => {
    const r = await client.chat.completions.create({
      model: 'script',
      messages: [
        { role: 'developer', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
      max_tokens: 1,
      temperature: 0,
    });
    expect(r.choices[0]!.message.content).to.equal('a');
    expect(charTokenizer.decode(policy.calls[0]!.prompts[0]!)).to.equal('system: be brief\nuser: hi\nassistant:');
  });

  it('refuses JSON response formats it cannot enforce, and takes text', async () => {
    for (const response_format of [
      { type: 'json_object' as const },
      { type: 'json_schema' as const, json_schema: { name: 'x', schema: { type: 'object' } } },
    ]) {
      const err = await client.chat.completions
        .create({ model: 'script', messages: [{ role: 'user', content: 'JSON please' }], response_format })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err, response_format.type).to.be.instanceOf(OpenAI.BadRequestError);
      expect((err as { param?: string }).param).to.equal('response_format');
    }
    const ok = await client.chat.completions.create({
      model: 'script',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
      temperature: 0,
      response_format: { type: 'text' },
    });
    expect(ok.choices[0]!.message.content).to.equal('ab');
    expect(policy.calls).to.have.length(1);
  });

  it('streams chat tokens while the policy is still decoding', async () => {
    const stream = await client.chat.completions.create({
      model: 'script',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 64,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let roles = 0;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      const d = chunk.choices[0]?.delta;
      if (d?.role) roles++;
      if (d?.content) {
        // The policy waits after its first token until this runs: only a live stream gets here in time.
        if (text === '') policy.release();
        text += d.content;
      }
    }
    expect(policy.released, 'the first token reached the client while the policy was decoding').to.equal(true);
    expect(text).to.equal(SCRIPT);
    expect(roles).to.equal(1);
    expect(usage).to.deep.include({ completion_tokens: SCRIPT.length + 1 });
  });

  it("streams completions with each token's log-probs, holding back a possible stop string", async () => {
    const stream = await client.completions.create({
      model: 'script',
      prompt: 'hi',
      max_tokens: 64,
      temperature: 0,
      stop: ['STOP'],
      logprobs: 1,
      n: 2,
      stream: true,
    });
    const pieces: string[][] = [[], []];
    const lps: number[][] = [[], []];
    const finish: (string | null)[] = [];
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        // The first chunk carries the first token's log-probs; its text waits (it may start 'STOP').
        policy.release();
        pieces[c.index]!.push(c.text);
        lps[c.index]!.push(...((c.logprobs?.token_logprobs ?? []) as number[]));
        if (c.finish_reason) finish[c.index] = c.finish_reason;
      }
    }
    expect(policy.released).to.equal(true);
    for (const i of [0, 1]) {
      expect(pieces[i]!.join('')).to.equal('abc def ');
      expect(lps[i]).to.deep.equal([...'abc def STOP'].map((_, t) => scriptLogProb(t)));
      // 'S', 'T', 'O' could start 'STOP': they are never sent.
      expect(pieces[i]!.some((p) => /[STO]/.test(p))).to.equal(false);
    }
    expect(finish).to.deep.equal(['stop', 'stop']);
  });

  it('a failure after the first chunk reaches the client as an error event, without internals', async () => {
    policy.waitMs = 1;
    const inner = new Error('decoder blew up');
    inner.stack = 'Error: decoder blew up\n    at secret (/srv/agent0/x.ts:1:1)';
    policy.failWith = inner;
    const stream = await client.chat.completions.create({
      model: 'script',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 8,
      temperature: 0,
      stream: true,
    });
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(text).to.equal('a');
    expect(err).to.be.instanceOf(OpenAI.APIError);
    expect((err as Error).message)
      .to.include('decoder blew up')
      .and.not.include('secret');
  });

  it('a request refused before its first token gets a plain JSON error, not an event stream', async () => {
    const r = await raw(srv.url, {
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'script',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        logprobs: true,
        top_logprobs: 9,
      }),
    });
    expect(r.status).to.equal(400);
    expect(r.headers['content-type']).to.equal('application/json');
    expect(r.json.error.param).to.equal('top_logprobs');
  });
});
