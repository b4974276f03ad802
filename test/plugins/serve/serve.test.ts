// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import OpenAI from 'openai';
import { BatchingEngine, createServer, listen, type RunningServer } from '../../../plugins/serve/public.js';
import { SCRIPT, ScriptPolicy, TwoTurnLoop, scriptLogProb } from './doubles.js';

/** Extra per-choice fields agent0 serve adds (vLLM-style token ids, tool-mode turns). */
type Extra = {
  token_ids?: number[];
  stop_reason?: string | null;
  turns?: { role: string; content: string }[];
  agent0?: Record<string, unknown>;
};

describe('agent0 serve, driven by the official openai client', () => {
  let policy: ScriptPolicy;
  let loop: TwoTurnLoop;
  let srv: RunningServer;
  let client: OpenAI;

  before(async () => {
    policy = new ScriptPolicy();
    loop = new TwoTurnLoop();
    const engine = new BatchingEngine(policy, { windowMs: 20, maxRows: 64 });
    srv = await listen(
      createServer({ engine, modelName: 'script', loop, limits: { maxTokens: 256, maxN: 8 } }),
      '127.0.0.1',
      0,
    );
    client = new OpenAI({ baseURL: srv.url, apiKey: 'unused', maxRetries: 0 });
  });
  after(() => srv.close());
  beforeEach(() => {
    policy.calls.length = 0;
  });

  it('lists the model and its tool mode', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).to.deep.equal(['script', 'script:tools']);
  });

  it('completes a text prompt up to max_tokens with usage', async () => {
    const r = await client.completions.create({ model: 'script', prompt: 'hi', max_tokens: 5, temperature: 0 });
    expect(r.object).to.equal('text_completion');
    expect(r.choices).to.have.length(1);
    expect(r.choices[0]!.text).to.equal('abc d');
    expect(r.choices[0]!.finish_reason).to.equal('length');
    expect(r.usage).to.deep.equal({ prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 });
    expect(policy.calls[0]!.params).to.include({ maxNewTokens: 5, temperature: 0 });
  });

  it('ends at EOS with finish_reason stop and no stop_reason', async () => {
    const r = await client.completions.create({ model: 'script', prompt: 'hi', max_tokens: 100, temperature: 0 });
    const c = r.choices[0]! as (typeof r.choices)[0] & Extra;
    expect(c.text).to.equal(SCRIPT);
    expect(c.finish_reason).to.equal('stop');
    expect(c.stop_reason).to.equal(null);
    expect(r.usage!.completion_tokens).to.equal(SCRIPT.length + 1); // the EOS token counts
  });

  it('cuts the text at a stop string (kept only with include_stop_str_in_output)', async () => {
    const r = await client.completions.create({
      model: 'script',
      prompt: 'hi',
      max_tokens: 64,
      temperature: 0,
      stop: ['STOP', 'xyz'],
    });
    const c = r.choices[0]! as (typeof r.choices)[0] & Extra;
    expect(c.text).to.equal('abc def ');
    expect(c.finish_reason).to.equal('stop');
    expect(c.stop_reason).to.equal('STOP');
    expect(r.usage!.completion_tokens).to.equal('abc def STOP'.length);
    const kept = await client.completions.create({
      model: 'script',
      prompt: 'hi',
      max_tokens: 64,
      temperature: 0,
      stop: 'STOP',
      include_stop_str_in_output: true,
    } as never);
    expect((kept as OpenAI.Completion).choices[0]!.text).to.equal('abc def STOP');
  });

  it('returns n samples per prompt, several prompts, in index order', async () => {
    const r = await client.completions.create({
      model: 'script',
      prompt: ['a', 'b'],
      n: 2,
      max_tokens: 5,
      temperature: 1,
      seed: 3,
    });
    // Rows of one policy call: prompt 0 samples 0-1, prompt 1 samples 0-1.
    expect(r.choices.map((c) => [c.index, c.text])).to.deep.equal([
      [0, '[3:0]'],
      [1, '[3:1]'],
      [2, '[3:2]'],
      [3, '[3:3]'],
    ]);
    expect(policy.calls).to.have.length(1);
    expect(policy.calls[0]!.rows).to.equal(4);
    expect(r.usage!.prompt_tokens).to.equal(2);
  });

  it('reports the sampled tokens and their log-probs, and token ids on request', async () => {
    const r = (await client.completions.create({
      model: 'script',
      prompt: 'hi',
      max_tokens: 3,
      temperature: 0,
      logprobs: 1,
      return_token_ids: true,
    } as never)) as OpenAI.Completion;
    const c = r.choices[0]! as OpenAI.CompletionChoice & Extra;
    expect(c.logprobs!.tokens).to.deep.equal(['a', 'b', 'c']);
    expect(c.logprobs!.token_logprobs).to.deep.equal([scriptLogProb(0), scriptLogProb(1), scriptLogProb(2)]);
    expect(c.logprobs!.text_offset).to.deep.equal([0, 1, 2]);
    expect(c.token_ids).to.deep.equal([97, 98, 99]);
    expect((c as { prompt_token_ids?: number[] }).prompt_token_ids).to.deep.equal([104, 105]);
  });

  it('accepts token-id prompts', async () => {
    const r = await client.completions.create({
      model: 'script',
      prompt: [104, 105, 33],
      max_tokens: 2,
      temperature: 0,
    });
    expect(r.choices[0]!.text).to.equal('ab');
    expect(r.usage!.prompt_tokens).to.equal(3);
  });

  it('chats, with log-probs', async () => {
    const r = await client.chat.completions.create({
      model: 'script',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
      max_tokens: 3,
      temperature: 0,
      logprobs: true,
    });
    expect(r.object).to.equal('chat.completion');
    expect(r.choices[0]!.message).to.deep.include({ role: 'assistant', content: 'abc' });
    expect(r.choices[0]!.logprobs!.content!.map((t) => [t.token, t.logprob])).to.deep.equal([
      ['a', -0.01],
      ['b', -0.02],
      ['c', -0.03],
    ]);
    // No chat template on this tokenizer: "system: be brief\nuser: hi\nassistant:"
    expect(r.usage!.prompt_tokens).to.equal('system: be brief\nuser: hi\nassistant:'.length);
  });

  it('streams completions token by token, ending with the finish reason', async () => {
    const stream = await client.completions.create({
      model: 'script',
      prompt: 'hi',
      max_tokens: 64,
      temperature: 0,
      stop: ['STOP'],
      stream: true,
    });
    const pieces: string[] = [];
    const finishes: (string | null)[] = [];
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        pieces.push(c.text);
        finishes.push(c.finish_reason);
      }
    }
    expect(pieces.join('')).to.equal('abc def ');
    expect(pieces.slice(0, 3)).to.deep.equal(['a', 'b', 'c']);
    expect(finishes.at(-1)).to.equal('stop');
    expect(finishes.slice(0, -1).every((f) => f === null)).to.equal(true);
  });

  it('streams chat deltas for n > 1, with usage at the end', async () => {
    const stream = await client.chat.completions.create({
      model: 'script',
      messages: [{ role: 'user', content: 'hi' }],
      n: 2,
      max_tokens: 5,
      temperature: 1,
      seed: 9,
      stream: true,
      stream_options: { include_usage: true },
    });
    const text: Record<number, string> = {};
    const finish: Record<number, string | null> = {};
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        text[c.index] = (text[c.index] ?? '') + (c.delta.content ?? '');
        if (c.finish_reason) finish[c.index] = c.finish_reason;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).to.deep.equal({ 0: '[9:0]', 1: '[9:1]' });
    expect(finish).to.deep.equal({ 0: 'length', 1: 'length' });
    expect(usage).to.deep.include({ completion_tokens: 10 });
  });

  it('batches concurrent requests with equal sampling into one policy call', async () => {
    const ask = () =>
      client.completions.create({ model: 'script', prompt: 'x', max_tokens: 5, temperature: 1, seed: 1 });
    const rs = await Promise.all([ask(), ask(), ask(), ask()]);
    expect(policy.calls.map((c) => c.rows)).to.deep.equal([4]);
    // Each request got exactly one distinct row of that call.
    expect(rs.map((r) => r.choices[0]!.text).sort()).to.deep.equal(['[1:0]', '[1:1]', '[1:2]', '[1:3]']);
    const mixed = await Promise.all([
      ask(),
      client.completions.create({ model: 'script', prompt: 'x', max_tokens: 6, temperature: 1, seed: 1 }),
    ]);
    expect(policy.calls.map((c) => c.rows)).to.deep.equal([4, 1, 1]);
    expect(mixed.map((r) => r.choices[0]!.text)).to.deep.equal(['[1:0]', '[1:0]a']);
  });

  it('runs the agent loop for <model>:tools and returns the turns', async () => {
    const r = await client.completions.create({ model: 'script:tools', prompt: 'q', max_tokens: 30, temperature: 0 });
    const c = r.choices[0]! as OpenAI.CompletionChoice & Extra;
    expect(c.text).to.equal('abc def STOP ghi jkl.\n[obs]\nabc ');
    expect(c.turns).to.deep.equal([
      { role: 'assistant', content: 'abc def STOP ghi jkl.' },
      { role: 'tool', content: '\n[obs]\n' },
      { role: 'assistant', content: 'abc ' },
    ]);
    expect(c.agent0).to.deep.equal({ stop_reason: 'max_turns', turns: 2, tool_calls: 1, tool_errors: 0 });
    expect(c.finish_reason).to.equal('length');
    const chat = await client.chat.completions.create({
      model: 'script:tools',
      messages: [{ role: 'user', content: 'q' }],
      n: 2,
      max_tokens: 30,
      temperature: 0,
    });
    expect(chat.choices.map((x) => x.message.content)).to.deep.equal([
      'abc def STOP ghi jkl.\n[obs]\nabc ',
      'abc def STOP ghi jkl.\n[obs]\nabc ',
    ]);
    expect(new Set(loop.seen.slice(-2).map((q) => q.id)).size).to.equal(2);
    const pieces: string[] = [];
    for await (const chunk of await client.completions.create({
      model: 'script:tools',
      prompt: 'q',
      max_tokens: 30,
      temperature: 0,
      stream: true,
    })) {
      pieces.push(...chunk.choices.map((x) => x.text));
    }
    expect(pieces).to.deep.equal(['abc def STOP ghi jkl.', '\n[obs]\n', 'abc ', '']);
  });

  it('lets chat run to the server limit when max_tokens is absent', async () => {
    const r = await client.chat.completions.create({
      model: 'script',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0,
    });
    expect(policy.calls[0]!.params.maxNewTokens).to.equal(256);
    expect(r.choices[0]!.message.content).to.equal(SCRIPT);
    const c = await client.completions.create({ model: 'script', prompt: 'hi', temperature: 0 });
    expect(c.choices[0]!.text).to.equal(SCRIPT.slice(0, 16));
  });

  it('answers bad requests with OpenAI-style errors', async () => {
    const err = async (p: Promise<unknown>) =>
      p.then(
        () => {
          throw new Error('expected an error');
        },
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    const e404 = await err(client.completions.create({ model: 'nope', prompt: 'x' }));
    expect(e404).to.be.instanceOf(OpenAI.NotFoundError);
    expect(e404.message).to.match(/'nope' does not exist; served: script, script:tools/);
    const e400 = await err(client.completions.create({ model: 'script', prompt: 'x', temperature: 5 }));
    expect(e400).to.be.instanceOf(OpenAI.BadRequestError);
    expect(e400.message).to.match(/'temperature' must be a number in \[0, 2\]/);
    expect(await err(client.completions.create({ model: 'script', prompt: 'x', echo: true }))).to.be.instanceOf(
      OpenAI.BadRequestError,
    );
    expect(await err(client.completions.create({ model: 'script', prompt: 'x', max_tokens: 1000 }))).to.be.instanceOf(
      OpenAI.BadRequestError,
    );
    expect(await err(client.completions.create({ model: 'script', prompt: [500] }))).to.be.instanceOf(
      OpenAI.BadRequestError,
    );
    expect((await err(client.completions.create({ model: 'script', prompt: ['ok', ''] }))).message).to.match(
      /prompt 1 is empty/,
    );
  });
});
